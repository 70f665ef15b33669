package forward_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/forward"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

// childEnv makes the test binary a forwarder process (see TestMain): its
// value is the JSON of childConfig.
const childEnv = "LIFELINE_FORWARD_CHILD"

type childConfig struct {
	Store  store.Config
	Target forward.Target
}

// runChild forwards as the parent test configured until SIGTERM, or until
// it is killed.
func runChild() int {
	var cc childConfig
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &cc); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	st := store.New(cc.Store, logger)
	defer st.Close()
	if err := st.Open(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := forward.New(forward.Config{Targets: []forward.Target{cc.Target}}, st, nil, nil, logger).Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startChild starts the test binary as a forwarder process.
func startChild(t *testing.T, cc childConfig) *exec.Cmd {
	t.Helper()
	data, err := json.Marshal(cc)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(data))
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// A forwarder process killed with SIGKILL while it drains a backlog, then
// started again, loses no value; a value that arrives twice carries the
// same idempotency key both times.
func TestKillNineLosesNothing(t *testing.T) {
	st := storetest.Open(t)
	seedRegistry(t, st)
	dir := t.TempDir()
	rcv := newReceiver(t, nil)

	const periods = 60
	start := time.Now().Truncate(time.Second).Add(-(periods + 3) * time.Second)
	want := insertValues(t, st, start, periods, time.Second)

	tg := rcv.target(t, dir)
	tg.InitialBacklog = (periods + 5) * time.Second
	tg.BacklogRate = 8 // about 8 s to drain: room to kill it midway
	cc := childConfig{Store: st.Config(), Target: tg}

	// The first kill lands between two periods; the second while a
	// message the platform has recorded waits for its answer, so that
	// period is sent again after the restart.
	for kill := 1; kill <= 2; kill++ {
		child := startChild(t, cc)
		before := len(distinct(func() []received { v, _ := rcv.snapshot(); return v }()))
		killed := make(chan struct{})
		if kill == 2 {
			var once sync.Once
			f := func() {
				v, _ := rcv.snapshot()
				if len(distinct(v)) >= before+60 {
					once.Do(func() {
						_ = child.Process.Signal(syscall.SIGKILL)
						close(killed)
					})
				}
			}
			rcv.accepted.Store(&f)
		}
		waitFor(t, 60*time.Second, "progress before kill", func() bool {
			v, _ := rcv.snapshot()
			return len(distinct(v)) >= before+60
		})
		if kill == 1 {
			if err := child.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			close(killed)
		}
		<-killed
		_ = child.Wait()
		rcv.accepted.Store(nil)
		v, _ := rcv.snapshot()
		t.Logf("kill -9 #%d after %d distinct values", kill, len(distinct(v)))
	}
	child := startChild(t, cc)
	waitFor(t, 90*time.Second, "every value after restarts", func() bool {
		v, _ := rcv.snapshot()
		return len(missing(want, distinct(v))) == 0
	})
	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := child.Wait(); err != nil {
		t.Errorf("forwarder after SIGTERM: %v", err)
	}

	vals, _ := rcv.snapshot()
	dups := 0
	for id, rs := range distinct(vals) {
		for _, r := range rs[1:] {
			dups++
			if r.key != rs[0].key {
				t.Errorf("%v arrived with keys %s and %s", id, rs[0].key, r.key)
			}
		}
	}
	t.Logf("%d values wanted, %d accepted, %d duplicates (same key)", len(want), len(vals), dups)
	if dups == 0 {
		t.Error("the period in flight at the second kill did not come again")
	}
}
