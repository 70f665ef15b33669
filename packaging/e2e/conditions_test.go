package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	agentservice "github.com/lifeline-telemetry/lifeline/agent/service"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

// startAlarmServer runs agent/opcua/testdata/node-opcua-alarms.js and
// returns its host:port and a function that sends it a command (raise,
// ack, clear) and waits until it is done.
func startAlarmServer(t *testing.T) (hostPort string, do func(cmd string)) {
	t.Helper()
	root, modules, port := nodeOPCUA(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", filepath.Join(root, "agent", "opcua", "testdata", "node-opcua-alarms.js"), strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	ready, exited, done := make(chan struct{}), make(chan struct{}), make(chan string, 8)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "READY" {
				close(ready)
			} else if c, ok := strings.CutPrefix(sc.Text(), "DONE "); ok {
				done <- c
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() {
		stdin.Close()
		cancel()
		cmd.Wait()
		<-exited
	})
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("node-opcua alarm server exited:\n%s", stderr.String())
	case <-time.After(3 * time.Minute): // 17 s at load average 34 on 2 cores, over a minute at 40
		t.Fatalf("node-opcua alarm server not ready after 3 minutes:\n%s", stderr.String())
	}
	return "127.0.0.1:" + strconv.Itoa(port), func(c string) {
		t.Helper()
		if _, err := fmt.Fprintln(stdin, c); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-done:
			if got != c {
				t.Fatalf("alarm server did %q, want %q", got, c)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("alarm server did not do %q", c)
		}
	}
}

// TestConditionEventsStoredOnce: a node-opcua alarm is raised; the agent
// is restarted and its OPC UA connection cut, and each time its
// ConditionRefresh sends the standing alarm again; then the alarm is
// acknowledged and cleared. ClickHouse holds the refresh copies, and
// condition_events FINAL every transition exactly once, received live.
func TestConditionEventsStoredOnce(t *testing.T) {
	server, do := startAlarmServer(t)
	opc := startProxy(t, server)
	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	logger := testLogger(t)
	agg, stopAgg := startFlowAggregator(t, ctx, addr, db, logger)
	defer stopAgg()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Auth: clickhouse.Auth{Database: db}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Merges would fold the copies this test counts before it sees them
	// (in this test's database only: the server is shared).
	if err := conn.Exec(ctx, "SYSTEM STOP MERGES "+db+".condition_events"); err != nil {
		t.Fatal(err)
	}
	rows := func() (raw, final uint64) {
		err := conn.QueryRow(ctx, `SELECT (SELECT count() FROM condition_events WHERE site_id = 'DCS01'),
       (SELECT count() FROM condition_events FINAL WHERE site_id = 'DCS01')`).Scan(&raw, &final)
		if err != nil {
			t.Fatal(err)
		}
		return raw, final
	}

	cfg := nodeAgentConfig(t, "DCS01", "opc.tcp://"+opc.addr(), agg.Addr())
	src := &cfg.Sources[0]
	src.Points = []config.Point{{ID: "LS201", Node: "nsu=urn:test:node-opcua;s=Plant.Tank2.LevelSwitch"}}
	src.Events = config.Events{Enabled: true, Notifiers: []string{"i=2253"}}
	start := func(name string) (stop func()) {
		agent := agentservice.New(cfg, "e2e", logger.With("process", name))
		actx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- agent.Run(actx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}

	stop := start("agent-a")
	time.Sleep(3 * time.Second) // the agent connects and subscribes
	do("raise")
	waitFor(t, ctx, "the raise stored", func() bool { raw, _ := rows(); return raw >= 1 })
	stop()

	stop = start("agent-b") // a restart: the refresh re-sends the raise
	waitFor(t, ctx, "the raise re-sent after the restart", func() bool { raw, _ := rows(); return raw >= 2 })
	opc.cut() // a reconnect: the refresh re-sends it again
	waitFor(t, ctx, "the raise re-sent after the reconnect", func() bool { raw, _ := rows(); return raw >= 3 })
	do("ack")
	do("clear")
	waitFor(t, ctx, "ack and clear stored", func() bool { _, final := rows(); return final >= 3 })
	stop()

	raw, final := rows()
	type transition struct{ active, acked, live uint8 }
	var got []transition
	q, err := conn.Query(ctx, `SELECT active, acked, live FROM condition_events FINAL
WHERE site_id = 'DCS01' AND condition_name = 'LSH201' ORDER BY time_ns, event_id`)
	if err != nil {
		t.Fatal(err)
	}
	for q.Next() {
		var tr transition
		if err := q.Scan(&tr.active, &tr.acked, &tr.live); err != nil {
			t.Fatal(err)
		}
		got = append(got, tr)
	}
	q.Close()
	want := []transition{{1, 0, 1}, {1, 1, 1}, {0, 1, 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) || final != 3 || raw < 5 {
		t.Fatalf("transitions %v (FINAL %d rows, %d stored), want %v once each", got, final, raw, want)
	}
	t.Logf("3 transitions stored once (%d rows before merge: refresh copies after a restart and a reconnect)", raw)
}
