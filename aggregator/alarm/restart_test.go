package alarm_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"

	"go.uber.org/goleak"

	"github.com/lifeline-telemetry/lifeline/aggregator/alarm"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// lossyCheckpoints is a store whose checkpoints stop persisting once
// frozen: what a crash right after writing events looks like.
type lossyCheckpoints struct {
	*store.Store
	frozen atomic.Bool
}

func (l *lossyCheckpoints) SaveAlarmStates(ctx context.Context, s []store.AlarmState) error {
	if l.frozen.Load() {
		return nil
	}
	return l.Store.SaveAlarmStates(ctx, s)
}

func TestRestartInTheMiddleOfAnActiveAlarm(t *testing.T) {
	for _, tt := range []struct {
		name string
		// crash: the first evaluator's checkpoint after the raise is lost,
		// so the second re-evaluates the batches committed since.
		crash bool
	}{{"clean stop", false}, {"crash before checkpoint", true}} {
		t.Run(tt.name, func(t *testing.T) {
			st := storetest.Open(t)
			savePoint(t, st, &lifelinev1.Limits{High: f(80), Deadband: 1})
			opts := testOptions()
			opts.OffDelay = 3 * time.Second
			lossy := &lossyCheckpoints{Store: st}

			ev1, stop1 := startEvaluator(t, lossy, opts)
			var seq uint64
			feed(t, st, ev1, &seq, []step{{samples: []smp{{0, 50, false}}}})
			lossy.frozen.Store(tt.crash)
			// Raised, and the clear is pending (off-delay) when it stops.
			feed(t, st, ev1, &seq, []step{{samples: []smp{{1, 85, false}, {2, 86, false}}}, {samples: []smp{{4, 60, false}}}})
			stop1()
			if got, want := alarms(t, st), []row{{alarm.H, 1, -1, "", false}}; !slices.Equal(got, want) {
				t.Fatalf("after the first evaluator: %v, want %v", got, want)
			}
			lossy.frozen.Store(false)

			ev2, _ := startEvaluator(t, st, opts)
			feed(t, st, ev2, &seq, []step{{samples: []smp{{8, 60, false}}}})
			want := []row{{alarm.H, 1, 7, "value", false}}
			if got := alarms(t, st); !slices.Equal(got, want) {
				t.Fatalf("after restart: %v, want %v", got, want)
			}
			if r, c := ev2.Counts(); tt.crash && (r != 1 || c != 1) || !tt.crash && (r != 0 || c != 1) {
				t.Fatalf("second evaluator raised %d, cleared %d", r, c)
			}
			var n uint64
			if err := chtest.Conn(t, st.Config().Addr, st.Config().Database).QueryRow(context.Background(), "SELECT count() FROM alarm_events FINAL").Scan(&n); err != nil || n != 1 {
				t.Fatalf("alarm rows = %d (%v), want 1", n, err)
			}
		})
	}
}

// The Writer hands committed batches to the evaluator; stale and comm_loss
// follow the clock.
func TestWriterFeedsEvaluatorStaleAndCommLoss(t *testing.T) {
	st := storetest.Open(t)
	savePoint(t, st, &lifelinev1.Limits{High: f(80)})
	var now atomic.Int64
	now.Store(base.Add(2 * time.Second).UnixNano())
	opts := testOptions()
	opts.Now = func() time.Time { return time.Unix(0, now.Load()) }
	opts.Grace = 0
	opts.StaleAfter = 30 * time.Second
	opts.CommLossAfter = 60 * time.Second
	opts.Tick = 5 * time.Millisecond
	ev, _ := startEvaluator(t, st, opts)

	w := writer.New(st, writer.Options{MaxDelay: time.Millisecond}, nil)
	w.Observe(ev)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = w.Run(ctx) }()
	done := make(chan error, 1)
	if err := w.Submit(ctx, batch(1, step{samples: []smp{{0, 85, false}, {1, 50, false}}}), func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := ev.Sync(ctx); err != nil { // evaluated at base + 2 s
		t.Fatal(err)
	}
	now.Store(base.Add(40 * time.Second).UnixNano()) // stale at 1 + 30 s
	waitFor(t, ev, st, []row{{alarm.H, 0, 1, "value", false}, {alarm.Stale, 31, -1, "", false}})
	now.Store(base.Add(70 * time.Second).UnixNano()) // comm loss at 2 + 60 s
	waitFor(t, ev, st, []row{{alarm.H, 0, 1, "value", false}, {alarm.Stale, 31, -1, "", false}, {alarm.CommLoss, 62, -1, "", false}})
	// Data returns: the point's stale clears at the sample, the site's
	// comm_loss when the batch arrives (aggregator clock).
	if err := w.Submit(ctx, batch(2, step{samples: []smp{{69, 50, false}}}), func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, ev, st, []row{{alarm.H, 0, 1, "value", false}, {alarm.Stale, 31, 69, "data", false}, {alarm.CommLoss, 62, 70, "connected", false}})
}

func waitFor(t *testing.T, ev *alarm.Evaluator, st *store.Store, want []row) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := ev.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := alarms(t, st)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("alarms:\n got %v\nwant %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A full queue does not block the Writer and loses nothing: the batches
// that did not fit are read back from ClickHouse by sequence number.
func TestQueueOverflowReadsBatchesBack(t *testing.T) {
	st := storetest.Open(t)
	// Registered before the evaluator's cleanup, so it runs after Run ended.
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	savePoint(t, st, &lifelinev1.Limits{High: f(80)})
	opts := testOptions()
	opts.MaxQueuedSamples = 1 // every batch below has more
	ev, _ := startEvaluator(t, st, opts)
	var seq uint64
	feed(t, st, ev, &seq, []step{
		{samples: []smp{{0, 50, false}, {1, 85, false}}},
		{samples: []smp{{2, 86, false}, {3, 50, false}}},
		{samples: []smp{{4, 90, false}, {5, 91, false}}},
	})
	want := []row{{alarm.H, 1, 3, "value", false}, {alarm.H, 4, -1, "", false}}
	if got := alarms(t, st); !slices.Equal(got, want) {
		t.Fatalf("alarms:\n got %v\nwant %v", got, want)
	}
}

// A connected agent's heartbeats count as life: a plant whose values hold
// steady (no batches) is not in comm_loss; when they stop, it is.
func TestHeartbeatsKeepASiteInCommunication(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	savePoint(t, st, &lifelinev1.Limits{High: f(80)})
	var now atomic.Int64
	setNow := func(sec float64) { now.Store(at(sec)) }
	setNow(2)
	opts := testOptions()
	opts.Now = func() time.Time { return time.Unix(0, now.Load()) }
	opts.CommLossAfter = 60 * time.Second
	opts.Tick = 5 * time.Millisecond
	ev, _ := startEvaluator(t, st, opts)
	var seq uint64
	feed(t, st, ev, &seq, []step{{samples: []smp{{0, 50, false}}}}) // a batch at 2 s
	beat := func(sec float64) {
		t.Helper()
		if err := st.SaveAgentStatus(ctx, []store.AgentStatus{{SiteID: site, Connected: true,
			Time: time.Unix(0, at(sec)), Status: &lifelinev1.Status{}}}); err != nil {
			t.Fatal(err)
		}
	}
	beat(50)
	setNow(70) // 68 s after the batch, 20 s after the heartbeat
	time.Sleep(50 * time.Millisecond)
	waitFor(t, ev, st, nil)
	setNow(115) // 65 s after the heartbeat
	waitFor(t, ev, st, []row{{alarm.CommLoss, 110, -1, "", false}})
	beat(120)
	setNow(135)
	waitFor(t, ev, st, []row{{alarm.CommLoss, 110, 120, "connected", false}})
}

// A point the agent reports good but frozen raises "frozen"; when the
// agent stops reporting it, the alarm clears.
func TestFrozenReportedByAgent(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	savePoint(t, st, &lifelinev1.Limits{High: f(80)})
	var now atomic.Int64
	setNow := func(sec float64) { now.Store(at(sec)) }
	setNow(2)
	opts := testOptions()
	opts.Now = func() time.Time { return time.Unix(0, now.Load()) }
	opts.Tick = 5 * time.Millisecond
	ev, _ := startEvaluator(t, st, opts)
	var seq uint64
	feed(t, st, ev, &seq, []step{{samples: []smp{{0, 50, false}}}})
	beat := func(sec float64, frozen ...string) {
		t.Helper()
		if err := st.SaveAgentStatus(ctx, []store.AgentStatus{{SiteID: site, Connected: true,
			Time: time.Unix(0, at(sec)), Status: &lifelinev1.Status{FrozenPoints: frozen}}}); err != nil {
			t.Fatal(err)
		}
	}
	beat(10, "P1")
	setNow(100)
	// When the heartbeat is read depends on the evaluator's ticks; the
	// alarm's raise time is the aggregator clock then.
	raised := waitForFrozen(t, ev, st, func(r row) bool { return r.cleared == -1 })
	beat(110)
	setNow(200)
	waitFor(t, ev, st, []row{{alarm.Frozen, raised, 200, "changing", false}})
}

func waitForFrozen(t *testing.T, ev *alarm.Evaluator, st *store.Store, ok func(row) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := ev.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := alarms(t, st)
		if len(got) == 1 && got[0].cond == alarm.Frozen && ok(got[0]) {
			return got[0].raised
		}
		if time.Now().After(deadline) {
			t.Fatalf("alarms: %v, want one frozen", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// crashingStore persists writes until its budget is spent and fails every
// write after: an aggregator that died after that many writes.
type crashingStore struct {
	*store.Store
	mu     sync.Mutex
	budget int // < 0: unlimited
}

var errCrashed = errors.New("crashed")

// dieAfter lets writes more writes through, then none.
func (c *crashingStore) dieAfter(writes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.budget = writes
}

// startCrashing runs an evaluator on a crashingStore over st; kill stops
// it (its last checkpoint fails once the budget is spent).
func startCrashing(t *testing.T, st *store.Store) (*alarm.Evaluator, *crashingStore, func()) {
	crash := &crashingStore{Store: st, budget: -1}
	ev := alarm.New(crash, testOptions(), slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	died := make(chan error, 1)
	go func() { died <- ev.Run(ctx) }()
	kill := sync.OnceFunc(func() {
		cancel()
		<-died
	})
	t.Cleanup(kill)
	return ev, crash, kill
}

func (c *crashingStore) spend() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.budget == 0 {
		return false
	}
	if c.budget > 0 {
		c.budget--
	}
	return true
}

func (c *crashingStore) SaveAlarmStates(ctx context.Context, s []store.AlarmState) error {
	if !c.spend() {
		return errCrashed
	}
	return c.Store.SaveAlarmStates(ctx, s)
}

func (c *crashingStore) SaveAlarmEvents(ctx context.Context, ev []store.AlarmEvent) error {
	if !c.spend() {
		return errCrashed
	}
	return c.Store.SaveAlarmEvents(ctx, ev)
}

// Live-first delivery evaluates a site's newest batch before the older
// one it overtook; a restart re-evaluates what its checkpoint lacks in
// sequence order. Whatever write the first aggregator died after, what
// it wrote and what the second evaluates must agree: no alarm raised
// twice, none left active that no machine holds (an operator would see it
// active forever).
func TestCrashAfterLiveFirstBatchesLeavesNoOrphanAlarm(t *testing.T) {
	for writes, want := range map[int][]row{
		0: {{alarm.H, 2, 8, "value", true}},
		1: {{alarm.H, 2, 2, "backfill_end", true}, {alarm.H, 3, 8, "value", false}},
		2: {{alarm.H, 2, 2, "backfill_end", true}, {alarm.H, 3, 8, "value", false}},
	} {
		t.Run(fmt.Sprintf("died after %d writes", writes), func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t)
			savePoint(t, st, &lifelinev1.Limits{High: f(80), Deadband: 1})
			ev1, crash, kill := startCrashing(t, st)
			var seq uint64
			feed(t, st, ev1, &seq, []step{{samples: []smp{{0, 50, false}}}})
			crash.dieAfter(writes)
			live := batch(3, step{samples: []smp{{3, 85, false}, {4, 86, false}}})
			overtaken := batch(2, step{backfill: true, samples: []smp{{1, 50, false}, {2, 85, false}}})
			if err := st.Insert(ctx, []*store.Batch{live}); err != nil {
				t.Fatal(err)
			}
			ev1.Committed([]*store.Batch{live})
			_ = ev1.Sync(ctx) // raised; fails once the budget is spent
			kill()
			// The overtaken batch is committed after the first evaluator is gone.
			if err := st.Insert(ctx, []*store.Batch{overtaken}); err != nil {
				t.Fatal(err)
			}

			opts := testOptions()
			opts.Tick = 5 * time.Millisecond // closes the history once it idles
			ev2, _ := startEvaluator(t, st, opts)
			seq = 3
			feed(t, st, ev2, &seq, []step{{samples: []smp{{8, 60, false}}}})
			waitFor(t, ev2, st, want)
		})
	}
}

// raiseAndDieBeforeTheEvents runs an evaluator over st that raises H at
// 1 s and dies after its checkpoint, before the events it carries.
func raiseAndDieBeforeTheEvents(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	savePoint(t, st, &lifelinev1.Limits{High: f(80)})
	ev1, crash, kill := startCrashing(t, st)
	var seq uint64
	feed(t, st, ev1, &seq, []step{{samples: []smp{{0, 50, false}}}})
	crash.dieAfter(1) // the checkpoint, not the events
	b := batch(2, step{samples: []smp{{1, 85, false}}})
	if err := st.Insert(ctx, []*store.Batch{b}); err != nil {
		t.Fatal(err)
	}
	ev1.Committed([]*store.Batch{b})
	if err := ev1.Sync(ctx); err == nil {
		t.Fatal("the events were written")
	}
	kill()
	if got := alarms(t, st); len(got) != 0 {
		t.Fatalf("before the restart: %v", got)
	}
}

// The next aggregator writes the events the checkpoint carried, though
// its machine holds the alarm already and would never raise it again.
func TestEventsSavedWithTheCheckpointWrittenAfterACrash(t *testing.T) {
	st := storetest.Open(t)
	raiseAndDieBeforeTheEvents(t, st)
	ev2, _ := startEvaluator(t, st, testOptions())
	waitFor(t, ev2, st, []row{{alarm.H, 1, -1, "", false}})
}

// failsFirstCheckpoint refuses the first state write and records the
// events written.
type failsFirstCheckpoint struct {
	*store.Store
	mu     sync.Mutex
	failed bool
	events []store.AlarmEvent
}

func (f *failsFirstCheckpoint) SaveAlarmStates(ctx context.Context, s []store.AlarmState) error {
	f.mu.Lock()
	first := !f.failed
	f.failed = true
	f.mu.Unlock()
	if first {
		return errors.New("refused")
	}
	return f.Store.SaveAlarmStates(ctx, s)
}

func (f *failsFirstCheckpoint) SaveAlarmEvents(ctx context.Context, ev []store.AlarmEvent) error {
	f.mu.Lock()
	f.events = append(f.events, ev...)
	f.mu.Unlock()
	return f.Store.SaveAlarmEvents(ctx, ev)
}

// A start whose checkpoint fails is retried from nothing: the events the
// checkpoint carried are written once, not once per attempt.
func TestStartRetriedFromNothing(t *testing.T) {
	st := storetest.Open(t)
	raiseAndDieBeforeTheEvents(t, st)
	flaky := &failsFirstCheckpoint{Store: st}
	ev2, _ := startEvaluator(t, flaky, testOptions())
	waitFor(t, ev2, st, []row{{alarm.H, 1, -1, "", false}})
	flaky.mu.Lock()
	defer flaky.mu.Unlock()
	if !flaky.failed || len(flaky.events) != 1 {
		t.Errorf("first checkpoint refused: %v; events written %v, want the raise once", flaky.failed, flaky.events)
	}
}
