package alarm_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-telemetry/lifeline/aggregator/alarm"
	"github.com/lifeline-telemetry/lifeline/aggregator/metrics"
	"github.com/lifeline-telemetry/lifeline/aggregator/owner"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// readCounts is a store that records the sites of each read-back query.
type readCounts struct {
	*store.Store
	mu            sync.Mutex
	states, plays [][]string
	ranges        []map[string]store.SeqRange
}

func (r *readCounts) LoadSitesAlarmStates(ctx context.Context, sites []string) ([]store.AlarmState, error) {
	r.mu.Lock()
	r.states = append(r.states, slices.Sorted(slices.Values(sites)))
	r.mu.Unlock()
	return r.Store.LoadSitesAlarmStates(ctx, sites)
}

func (r *readCounts) ReplaySites(ctx context.Context, ranges map[string]store.SeqRange, fn func(*store.Batch) error) error {
	var sites []string
	for s := range ranges {
		sites = append(sites, s)
	}
	r.mu.Lock()
	r.plays = append(r.plays, slices.Sorted(slices.Values(sites)))
	r.ranges = append(r.ranges, maps.Clone(ranges))
	r.mu.Unlock()
	return r.Store.ReplaySites(ctx, ranges, fn)
}

func (r *readCounts) reads() (states, plays [][]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.states), slices.Clone(r.plays)
}

// siteBatch is batch for another site than S1.
func siteBatch(siteID string, seq uint64, st step) *store.Batch {
	b := batch(seq, st)
	b.SiteID = siteID
	return b
}

func savePointOf(t *testing.T, st *store.Store, siteID string, lim *lifelinev1.Limits) {
	t.Helper()
	err := st.SaveCatalog(context.Background(), siteID, "P", "test", []*lifelinev1.Point{{Id: "P1", Kind: "level", Unit: "m", Limits: lim}})
	if err != nil {
		t.Fatal(err)
	}
}

// siteAlarms returns each site's alarms.
func siteAlarms(t *testing.T, st *store.Store) map[string][]row {
	t.Helper()
	conn := chtest.Conn(t, st.Config().Addr, st.Config().Database)
	rows, err := conn.Query(context.Background(), `SELECT site_id, condition, raised_ns, cleared_ns, end_reason, epoch
FROM alarm_events FINAL ORDER BY site_id, raised_ns`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]row{}
	for rows.Next() {
		var r row
		var s string
		var raised, cleared int64
		var epoch uint64
		if err := rows.Scan(&s, &r.cond, &raised, &cleared, &r.reason, &epoch); err != nil {
			t.Fatal(err)
		}
		r.raised, r.cleared = float64(raised-base.UnixNano())/1e9, -1
		if cleared != 0 {
			r.cleared = float64(cleared-base.UnixNano()) / 1e9
		}
		r.reason = fmt.Sprintf("%s@%d", r.reason, epoch)
		out[s] = append(out[s], r)
	}
	return out
}

// Five sites taken over at once (an aggregator restarting, its agents
// reconnecting): their checkpoints are read in one query and the batches
// committed after them in another, and each site's alarm state is its own:
// the alarms active at the checkpoint are not raised again, a site whose
// batch committed after the checkpoint clears, the others stay active.
func TestTakeoverOfManySitesReadsThemTogether(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	quiet := slog.New(slog.DiscardHandler)
	ownA, ownB := owner.New(st, "agg-a", quiet), owner.New(st, "agg-b", quiet)
	sites := []string{"S1", "S2", "S3", "S4", "S5"}
	for _, s := range sites {
		savePointOf(t, st, s, &lifelinev1.Limits{High: f(80), Deadband: 1})
		if _, err := ownA.Claim(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	optsA := testOptions()
	optsA.Owners = ownA
	evA, stopA := startEvaluator(t, st, optsA)
	for i, s := range sites {
		b := siteBatch(s, 1, step{samples: []smp{{0, 50, false}, {float64(1 + i), 85, false}}})
		if err := st.Insert(ctx, []*store.Batch{b}); err != nil {
			t.Fatal(err)
		}
		evA.Committed([]*store.Batch{b})
	}
	if err := evA.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	stopA()
	// Committed while no evaluator ran: S2 returns below its limit.
	late := siteBatch("S2", 2, step{samples: []smp{{10, 60, false}}})
	if err := st.Insert(ctx, []*store.Batch{late}); err != nil {
		t.Fatal(err)
	}

	for _, s := range sites {
		if _, err := ownB.Claim(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	reads := &readCounts{Store: st}
	optsB := testOptions()
	optsB.Owners = ownB
	evB, _ := startEvaluator(t, reads, optsB)
	if err := evB.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	states, plays := reads.reads()
	if want := [][]string{sites}; !slices.EqualFunc(states, want, slices.Equal) || !slices.EqualFunc(plays, [][]string{{"S2"}}, slices.Equal) {
		t.Errorf("read checkpoints of %v and batches of %v; want one read of all five and one of S2's batch", states, plays)
	}
	if r, c := evB.Counts(); r != 0 || c != 1 {
		t.Errorf("the new owner raised %d and cleared %d; want 0 and 1", r, c)
	}
	got := siteAlarms(t, st)
	for i, s := range sites {
		want := []row{{cond: alarm.H, raised: float64(1 + i), cleared: -1, reason: "@1"}}
		if s == "S2" {
			want = []row{{cond: alarm.H, raised: 2, cleared: 10, reason: "value@2"}}
		}
		if !slices.Equal(got[s], want) {
			t.Errorf("%s: %v, want %v", s, got[s], want)
		}
	}
}

// Batches of many sites dropped by a full queue are read back in one
// query, and each site's alarms come out as if they had been queued.
func TestDroppedBatchesOfManySitesReadBackTogether(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	sites := []string{"S1", "S2", "S3"}
	for _, s := range sites {
		savePointOf(t, st, s, &lifelinev1.Limits{High: f(80)})
	}
	reads := &readCounts{Store: st}
	opts := testOptions()
	opts.MaxQueuedSamples = 1 // every batch below has more
	ev, _ := startEvaluator(t, reads, opts)
	var all []*store.Batch
	for i, s := range sites {
		all = append(all,
			siteBatch(s, 1, step{samples: []smp{{0, 50, false}, {1, 85, false}}}),
			siteBatch(s, 2, step{samples: []smp{{2, 86, false}, {float64(3 + i), 50, false}}}))
	}
	if err := st.Insert(ctx, all); err != nil {
		t.Fatal(err)
	}
	ev.Committed(all)
	if err := ev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, plays := reads.reads(); !slices.EqualFunc(plays, [][]string{sites}, slices.Equal) {
		t.Errorf("read back batches of %v, want one read of all three sites", plays)
	}
	got := siteAlarms(t, st)
	for i, s := range sites {
		want := []row{{cond: alarm.H, raised: 1, cleared: float64(3 + i), reason: "value@0"}}
		if !slices.Equal(got[s], want) {
			t.Errorf("%s: %v, want %v", s, got[s], want)
		}
	}
}

// dropThenFit commits S1's batch 1 (50, then 85 beyond H 80), which never
// fits a queue of one sample, and batch 2 (50 again), which does, to an
// evaluator on the store wrap makes of a fresh one, and waits until both
// are evaluated. Evaluated in order they make dropThenFitAlarms.
func dropThenFit(t *testing.T, wrap func(*store.Store) alarm.Store) *store.Store {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t)
	savePointOf(t, st, "S1", &lifelinev1.Limits{High: f(80)})
	opts := testOptions()
	opts.MaxQueuedSamples = 1
	ev, _ := startEvaluator(t, wrap(st), opts)
	dropped := siteBatch("S1", 1, step{samples: []smp{{0, 50, false}, {1, 85, false}}})
	fits := siteBatch("S1", 2, step{samples: []smp{{3, 50, false}}})
	if err := st.Insert(ctx, []*store.Batch{dropped, fits}); err != nil {
		t.Fatal(err)
	}
	ev.Committed([]*store.Batch{dropped})
	ev.Committed([]*store.Batch{fits})
	if err := ev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

var dropThenFitAlarms = []row{{cond: alarm.H, raised: 1, cleared: 3, reason: "value@0"}}

// Once a site's batch fits in the queue again, the batches dropped before
// it are read back right then, and only they: the batch itself is
// evaluated from the queue, after them, and the alarms come out as if
// nothing had been dropped.
func TestFittingBatchReadsBackOnlyWhatWasDropped(t *testing.T) {
	var reads *readCounts
	st := dropThenFit(t, func(st *store.Store) alarm.Store {
		reads = &readCounts{Store: st}
		return reads
	})
	_, plays := reads.reads()
	reads.mu.Lock()
	ranges := slices.Clone(reads.ranges)
	reads.mu.Unlock()
	if len(plays) != 1 || len(ranges) != 1 || ranges[0]["S1"].First != 1 || ranges[0]["S1"].Last != 1 {
		t.Errorf("read back %v, want one read of S1's batch 1 alone", ranges)
	}
	if got := siteAlarms(t, st)["S1"]; !slices.Equal(got, dropThenFitAlarms) {
		t.Errorf("alarms %v, want %v", got, dropThenFitAlarms)
	}
}

// failingReads is a store whose first read-back fails.
type failingReads struct {
	*store.Store
	mu    sync.Mutex
	calls int
}

func (f *failingReads) ReplaySites(ctx context.Context, ranges map[string]store.SeqRange, fn func(*store.Batch) error) error {
	f.mu.Lock()
	f.calls++
	first := f.calls == 1
	f.mu.Unlock()
	if first {
		return fmt.Errorf("clickhouse refused the read")
	}
	return f.Store.ReplaySites(ctx, ranges, fn)
}

// When the read-back of a site's dropped batches fails, the site's later
// batches already queued wait for it: evaluated first, they would make
// the dropped batches history when read back, and an alarm raised by a
// dropped batch would not be cleared by the later one that returned.
func TestFailedReadBackHoldsTheSiteBack(t *testing.T) {
	// Batch 2 is queued behind a read-back of batch 1, which fails.
	var reads *failingReads
	st := dropThenFit(t, func(st *store.Store) alarm.Store {
		reads = &failingReads{Store: st}
		return reads
	})
	reads.mu.Lock()
	calls := reads.calls
	reads.mu.Unlock()
	if calls < 2 {
		t.Fatalf("%d read-backs, want the failed one and its retry", calls)
	}
	if got := siteAlarms(t, st)["S1"]; !slices.Equal(got, dropThenFitAlarms) {
		t.Errorf("alarms %v, want %v", got, dropThenFitAlarms)
	}
}

// The read-back gauge counts the sites whose batches wait to be read back,
// and returns to 0 once they are evaluated: what an operator (and the
// bench, between runs) watches to know evaluation has caught up. What
// evaluation waited on is timed by operation.
func TestReadBackMetrics(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	savePointOf(t, st, "S1", &lifelinev1.Limits{High: f(80)})
	opts := testOptions()
	opts.MaxQueuedSamples = 1
	ev := alarm.New(st, opts, slog.New(slog.DiscardHandler))
	reg := prometheus.NewRegistry()
	alarm.NewMetrics(ev, reg)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ev.Run(rctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	gauge := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == metrics.AlarmReadBackSites {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatalf("%s not registered", metrics.AlarmReadBackSites)
		return 0
	}
	dropped := siteBatch("S1", 1, step{samples: []smp{{0, 50, false}, {1, 85, false}}})
	if err := st.Insert(ctx, []*store.Batch{dropped}); err != nil {
		t.Fatal(err)
	}
	ev.Committed([]*store.Batch{dropped})
	if got := gauge(); got != 1 {
		t.Errorf("read-back sites after a batch did not fit: %v, want 1", got)
	}
	if err := ev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := gauge(); got != 0 {
		t.Errorf("read-back sites after Sync: %v, want 0", got)
	}
	// What evaluation waited on: the start's refresh, the read-back, the
	// raised alarm's event and the checkpoint.
	waits := map[string]uint64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == metrics.AlarmStoreWaitSeconds {
			for _, m := range mf.GetMetric() {
				waits[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	for _, op := range []string{"refresh", "readback", "events", "checkpoint"} {
		if waits[op] == 0 {
			t.Errorf("no wait on %s recorded: %v", op, waits)
		}
	}
}
