package notify_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/notify"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

// The test binary re-executed as a notifier process.
const (
	envHelper   = "LIFELINE_NOTIFY_HELPER"      // ClickHouse addr/database
	envHookURL  = "LIFELINE_NOTIFY_HELPER_URL"  // webhook receiver
	envHang     = "LIFELINE_NOTIFY_HELPER_HANG" // 1: stop after deciding, wait to be killed
	decidedMark = "decided, not yet delivered"
)

// helperMain runs one notifier poll when the test binary is started as a
// helper process, and reports whether it was.
func helperMain() bool {
	target := os.Getenv(envHelper)
	if target == "" {
		return false
	}
	addr, db, _ := strings.Cut(target, "/")
	cfg := store.DefaultConfig()
	cfg.Addr, cfg.Database = addr, db
	st := store.New(cfg, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.Open(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "helper: open store:", err)
		os.Exit(2)
	}
	ncfg := webhookConfig(os.Getenv(envHookURL))
	opts := notify.Options{}
	if os.Getenv(envHang) == "1" {
		opts.AfterDecide = func() {
			fmt.Println(decidedMark)
			select {} // until SIGKILL
		}
	}
	n := notify.New(ncfg, st, st, &acks{}, notify.NewSenders(ncfg, nil), opts, notify.NewMetrics(nil),
		slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err := n.Poll(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "helper: poll:", err)
		os.Exit(3)
	}
	os.Exit(0)
	return true
}

// TestKilledBetweenDecideAndSend kills a notifier process with SIGKILL
// after it stored a notification as pending and before it sent it; the
// next process delivers it exactly once, and a third sends nothing.
func TestKilledBetweenDecideAndSend(t *testing.T) {
	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	cfg := store.DefaultConfig()
	cfg.Addr, cfg.Database = addr, db
	st := store.New(cfg, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	if err := st.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SaveRegistry(ctx, []store.Enterprise{{SiteID: "hd-chem", Name: "华东化工", Park: "化工园区"}}, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveAlarmEvents(ctx, []store.AlarmEvent{alarmAt("T101.LT", time.Now())}); err != nil {
		t.Fatal(err)
	}
	in := newInbox(t)
	env := append(os.Environ(), envHelper+"="+addr+"/"+db, envHookURL+"="+in.URL)

	// First process: decides, then is killed before delivering.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(env, envHang+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.Contains(line, decidedMark) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper said %q (%v)", line, err)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred cleanup runs
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if n, err := st.OutboxPendingCount(ctx); err != nil || n != 1 {
		t.Fatalf("pending after kill: %d (%v), want 1", n, err)
	}
	if got := in.of("officer"); len(got) != 0 {
		t.Fatalf("delivered before the kill: %d", len(got))
	}

	// Second and third processes: one delivery in all.
	for i := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env, cmd.Stdout, cmd.Stderr = env, os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("run %d: %v", i+2, err)
		}
	}
	got := in.of("officer")
	if len(got) != 1 {
		t.Fatalf("officer got %d deliveries, want exactly 1", len(got))
	}
	if !strings.HasPrefix(got[0].ID, "n") || len(got[0].ID) != 33 {
		t.Errorf("notification id %q", got[0].ID)
	}
	if n, err := st.OutboxPendingCount(ctx); err != nil || n != 0 {
		t.Errorf("pending at the end: %d (%v)", n, err)
	}
}
