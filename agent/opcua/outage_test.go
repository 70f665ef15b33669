package opcua

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// gapRecorder is a sink that also keeps gap records.
type gapRecorder struct {
	recorder
	gmu  sync.Mutex
	gaps []*lifelinev1.Gap
}

func (g *gapRecorder) RecordGap(gap *lifelinev1.Gap) {
	g.gmu.Lock()
	g.gaps = append(g.gaps, gap)
	g.gmu.Unlock()
}

func (g *gapRecorder) recorded() []*lifelinev1.Gap {
	g.gmu.Lock()
	defer g.gmu.Unlock()
	return slices.Clone(g.gaps)
}

// The simulator stops for a few seconds and comes back on the same port.
// The reader reports the source down while it is, is reading again within
// the default reconnect cap of the restart, and records one
// source_unavailable gap for the source's points that covers the outage.
func TestSourceOutageIsRecordedAndShort(t *testing.T) {
	t.Parallel()
	const outageFor = 8 * time.Second
	addr := "127.0.0.1:" + itoa(freePort(t)) // listened on again after the restart

	sim := startSim(t, plantsim.Options{Addr: addr})
	src := simSource(sim)
	src.ReconnectMin, src.ReconnectMax = 0, 0
	config.SourceDefaults(&src) // the shipped backoff
	ids := decoyed(sim)
	rec := &gapRecorder{}
	r := New(src, rec, testLogger(t))
	started := time.Now()
	stop := running(t, r)
	defer stop()
	waitFor(t, "samples of every numeric and text point", 15*time.Second, func() bool { return hasAll(rec.samples(time.Time{}), ids) })
	// How long connecting and subscribing takes on this machine now: a
	// loaded machine stretches the reconnect's own work, not the backoff.
	firstData := time.Since(started)
	if st := r.Stats(); !st.Connected || !st.DownSince.IsZero() || len(rec.recorded()) != 0 {
		t.Fatalf("a clean first connection: stats %+v, gaps %v", st, rec.recorded())
	}

	stopped := time.Now()
	shutdownSim(t, sim)
	waitFor(t, "the reader to report the source down", 5*time.Second, func() bool { return !r.Stats().Connected })
	if since := r.Stats().DownSince; since.IsZero() || since.After(time.Now()) {
		t.Fatalf("DownSince %v while the source is down", since)
	}
	time.Sleep(outageFor - time.Since(stopped))

	// The reader may reconnect while startSim is still returning: the gap
	// can end between these two times, never before the first.
	restarting := time.Now()
	startSim(t, plantsim.Options{Addr: addr})
	restarted := time.Now() // listening again
	waitFor(t, "samples after the restart", 20*time.Second, func() bool { return hasAll(rec.samples(restarted), ids) })
	resumed := time.Now()
	// Worst case: the attempt just before the restart failed, so the next
	// comes reconnect_max later; then connecting and subscribing, which
	// took firstData the first time.
	if limit := src.ReconnectMax.D() + max(3*time.Second, 2*firstData); resumed.Sub(restarted) > limit {
		t.Errorf("data resumed %v after the server came back, want within %v", resumed.Sub(restarted), limit)
	}
	st := r.Stats()
	if !st.Connected || !st.DownSince.IsZero() || st.Outages != 1 {
		t.Errorf("after the outage: stats %+v", st)
	}

	gaps := rec.recorded()
	if len(gaps) != 1 {
		t.Fatalf("%d gap records, want 1: %v", len(gaps), gaps)
	}
	g := gaps[0]
	from, to := time.Unix(0, g.FromNs), time.Unix(0, g.ToNs)
	if g.Reason != GapSourceUnavailable {
		t.Errorf("reason %q", g.Reason)
	}
	if from.After(stopped) || stopped.Sub(from) > 3*time.Second {
		t.Errorf("gap starts %v before the server stopped, want within 3s before", stopped.Sub(from))
	}
	if to.Before(restarting) || to.After(resumed) {
		t.Errorf("gap ends %v after the restart began; data resumed %v after it", to.Sub(restarting), resumed.Sub(restarting))
	}
	if want := pointIDs(src.Points); !slices.Equal(g.PointIds, want) {
		t.Errorf("gap points %v, want the source's %v", g.PointIds, want)
	}
	t.Logf("outage %v: gap %v (from %v before the stop to %v after the restart), data back %v after the restart",
		outageFor, to.Sub(from).Round(time.Millisecond), stopped.Sub(from).Round(time.Millisecond),
		to.Sub(restarted).Round(time.Millisecond), resumed.Sub(restarted).Round(time.Millisecond))
}
