package alarm_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/alarm"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// configReads is a store that counts reads of point configurations, and
// can hold every full read after the first until released.
type configReads struct {
	*store.Store
	mu      sync.Mutex
	full    int
	bySites [][]string
	hold    chan struct{} // nil: full reads return at once
	held    chan struct{} // receives when a held read begins waiting
	// afterFirst runs once the first full read has returned its rows.
	afterFirst func()
}

func (c *configReads) PointConfigs(ctx context.Context) ([]store.PointConfig, error) {
	c.mu.Lock()
	c.full++
	wait := c.full > 1 && c.hold != nil
	c.mu.Unlock()
	if wait {
		select {
		case c.held <- struct{}{}:
		default:
		}
		select {
		case <-c.hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	pcs, err := c.Store.PointConfigs(ctx)
	if c.afterFirst != nil {
		c.afterFirst()
		c.afterFirst = nil
	}
	return pcs, err
}

func (c *configReads) SitesPointConfigs(ctx context.Context, sites []string) ([]store.PointConfig, error) {
	c.mu.Lock()
	c.bySites = append(c.bySites, slices.Sorted(slices.Values(sites)))
	c.mu.Unlock()
	return c.Store.SitesPointConfigs(ctx, sites)
}

func (c *configReads) counts() (full int, bySites [][]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.full, slices.Clone(c.bySites)
}

// Sites that announce their points after the evaluator read every
// point's (agents connecting to a running aggregator) have their first
// samples judged against their limits, from one read of those sites'
// points, not another of every site's. A site still without points is
// asked again only after a pause.
func TestPointsOfNewSitesReadTogether(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	sites := []string{"S1", "S2", "S3"}
	reads := &configReads{Store: st, afterFirst: func() {
		for _, s := range sites {
			savePointOf(t, st, s, &lifelinev1.Limits{High: f(80), Deadband: 1})
		}
	}}
	ev := alarm.New(reads, testOptions(), slog.New(slog.DiscardHandler))
	var batches []*store.Batch
	for _, s := range append(slices.Clone(sites), "S4") {
		batches = append(batches, siteBatch(s, 1, step{samples: []smp{{1, 85, false}}}))
	}
	if err := st.Insert(ctx, batches); err != nil {
		t.Fatal(err)
	}
	// Queued before Run starts, so that Run takes them together.
	ev.Committed(batches)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ev.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := ev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// S4 sends again at once: not asked again.
	late := siteBatch("S4", 2, step{samples: []smp{{2, 85, false}}})
	if err := st.Insert(ctx, []*store.Batch{late}); err != nil {
		t.Fatal(err)
	}
	ev.Committed([]*store.Batch{late})
	if err := ev.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	got := siteAlarms(t, st)
	for _, s := range sites {
		if want := []row{{cond: alarm.H, raised: 1, cleared: -1, reason: "@0"}}; !slices.Equal(got[s], want) {
			t.Errorf("%s: %v, want %v", s, got[s], want)
		}
	}
	if len(got["S4"]) != 0 {
		t.Errorf("S4 has no points but raised %v", got["S4"])
	}
	full, bySites := reads.counts()
	if want := [][]string{{"S1", "S2", "S3", "S4"}}; full != 1 || !slices.EqualFunc(bySites, want, slices.Equal) {
		t.Errorf("%d reads of every point and reads of the points of %v; want 1 (at the start) and %v", full, bySites, want)
	}
}

// Re-reading every point's configuration (seconds at a plant-scale park)
// happens beside evaluation: batches are evaluated while it is under
// way, and the configurations it read apply once it ends.
func TestRefreshDoesNotStallEvaluation(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	savePoint(t, st, &lifelinev1.Limits{High: f(80), Deadband: 1})
	reads := &configReads{Store: st, hold: make(chan struct{}), held: make(chan struct{}, 1)}
	opts := testOptions()
	opts.Tick, opts.RefreshEvery, opts.RefreshAllEvery = 10*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond
	started := time.Now()
	opts.Now = func() time.Time { return base.Add(time.Hour + time.Since(started)) }
	ev, _ := startEvaluator(t, reads, opts)
	select {
	case <-reads.held:
	case <-time.After(10 * time.Second):
		t.Fatal("no refresh began")
	}
	// A batch evaluated (and Sync answered) while the refresh waits.
	var seq uint64
	b := batch(1, step{samples: []smp{{1, 70, false}}})
	if err := st.Insert(ctx, []*store.Batch{b}); err != nil {
		t.Fatal(err)
	}
	ev.Committed([]*store.Batch{b})
	syncCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := ev.Sync(syncCtx); err != nil {
		close(reads.hold)
		t.Fatalf("a batch waited for the refresh: %v", err)
	}
	seq = 1
	// The operator lowers the limit while the refresh is held; the
	// refresh reads it once released, and later samples meet it.
	savePoint(t, st, &lifelinev1.Limits{High: f(50), Deadband: 1})
	close(reads.hold)
	deadline := time.Now().Add(10 * time.Second)
	for i := 2; ; i++ {
		feed(t, st, ev, &seq, []step{{samples: []smp{{float64(i), 70, false}}}})
		if len(alarms(t, st)) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refreshed limit never applied: %v", alarms(t, st))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Between reads of every point, a refresh reads only the sites with a
// change: an operator's new limit applies at the next one.
func TestRefreshReadsChangedSites(t *testing.T) {
	st := storetest.Open(t)
	savePoint(t, st, &lifelinev1.Limits{High: f(80), Deadband: 1})
	reads := &configReads{Store: st}
	opts := testOptions()
	opts.RefreshEvery, opts.RefreshAllEvery = 10*time.Millisecond, time.Hour
	ev, _ := startEvaluator(t, reads, opts)
	var seq uint64
	feed(t, st, ev, &seq, []step{{samples: []smp{{1, 70, false}}}})
	savePoint(t, st, &lifelinev1.Limits{High: f(50), Deadband: 1})
	deadline := time.Now().Add(10 * time.Second)
	for i := 2; len(alarms(t, st)) == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatal("the changed limit never applied")
		}
		time.Sleep(20 * time.Millisecond)
		feed(t, st, ev, &seq, []step{{samples: []smp{{float64(i), 70, false}}}})
	}
	full, bySites := reads.counts()
	if full != 1 || !slices.ContainsFunc(bySites, func(s []string) bool { return slices.Equal(s, []string{site}) }) {
		t.Errorf("%d reads of every point and reads of the points of %v; want 1 (at the start) and of %s's", full, bySites, site)
	}
}

// A refresh reads a changed site's points once, not at every refresh
// while the change is within the margin (minutes), and again when the
// site changes again.
func TestRefreshReadsASiteOncePerChange(t *testing.T) {
	st := storetest.Open(t)
	savePoint(t, st, &lifelinev1.Limits{High: f(80), Deadband: 1})
	reads := &configReads{Store: st}
	opts := testOptions()
	opts.RefreshEvery, opts.RefreshAllEvery = 10*time.Millisecond, time.Hour
	startEvaluator(t, reads, opts)
	readsOfSite := func() int {
		_, bySites := reads.counts()
		return len(slices.DeleteFunc(bySites, func(s []string) bool { return !slices.Contains(s, site) }))
	}
	waitReads := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for readsOfSite() < want {
			if time.Now().After(deadline) {
				t.Fatalf("%d reads of %s's points, want %d", readsOfSite(), site, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// The first changed-sites read finds the catalog written before the
	// start's full read: nothing tells it the full read had it.
	waitReads(1)
	time.Sleep(300 * time.Millisecond) // some 30 refreshes
	if n := readsOfSite(); n != 1 {
		t.Fatalf("%d reads of %s's unchanged points in 30 refreshes, want 1", n, site)
	}
	savePoint(t, st, &lifelinev1.Limits{High: f(50), Deadband: 1})
	waitReads(2)
	time.Sleep(300 * time.Millisecond)
	if n := readsOfSite(); n != 2 {
		t.Errorf("%d reads of %s's points after one change, want 2", n, site)
	}
}
