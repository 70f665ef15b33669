package opcua

import (
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// The heartbeat measures the clock skew between the server's clock and
// the agent's, and a server whose clock stops answering gets its session
// rebuilt within heartbeatMisses periods.
func TestHeartbeatSkewAndDeadServerClock(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOptions{update: 50 * time.Millisecond})
	ts.clockOffset.Store(int64(90 * time.Second))
	rec := &recorder{}
	r := New(plantSource(ts.endpoint), rec, testLogger(t))
	r.heartbeatEvery = 100 * time.Millisecond
	running(t, r)
	waitFor(t, "a clock skew measurement", 10*time.Second, func() bool { return r.Stats().SkewKnown })
	if skew := r.Stats().ClockSkew; skew < 89*time.Second || skew > 91*time.Second {
		t.Fatalf("clock skew %s, want about 90s", skew)
	}

	ts.clockDead.Store(true)
	waitFor(t, "the session to be rebuilt after the heartbeat failed", 10*time.Second, func() bool { return r.Stats().Reconnects >= 1 })
	if st := r.Stats(); st.HeartbeatFailures < heartbeatMisses {
		t.Errorf("stats %+v: want at least %d heartbeat failures", st, heartbeatMisses)
	}
	ts.clockDead.Store(false)
	resumed := time.Now()
	waitFor(t, "samples after the rebuild", 10*time.Second, func() bool { return everyPoint(rec.samples(resumed), 1) })
	if st := r.Stats(); !st.Connected || st.LastData.Before(resumed) {
		t.Errorf("stats after recovery %+v", st)
	}
}

// A point whose value never changes is reported frozen; points that move
// are not.
func TestFrozenPoints(t *testing.T) {
	t.Parallel()
	vars := append([]testVar{{"STUCK", func(int) any { return 42.0 }}}, plantVars...)
	ts := startServer(t, serverOptions{vars: vars, update: 50 * time.Millisecond})
	src := plantSource(ts.endpoint, config.Point{ID: "stuck", Node: node("STUCK")})
	rec := &recorder{}
	r := New(src, rec, testLogger(t))
	running(t, r)
	waitFor(t, "samples", 10*time.Second, func() bool { return everyPoint(rec.samples(time.Time{}), 5) })
	// Judged at the reader's own last delivery, not by the wall clock: a
	// loaded machine that holds deliveries back must not make the moving
	// points look frozen.
	var at time.Time
	waitFor(t, "deliveries over a second past the stuck point's value", 10*time.Second, func() bool {
		var stuck time.Time
		at = time.Time{}
		for _, st := range r.PointStates() {
			if st.PointID == "stuck" {
				stuck = st.LastChange
			}
			if st.LastSample.After(at) {
				at = st.LastSample
			}
		}
		return !stuck.IsZero() && at.Sub(stuck) > 1200*time.Millisecond
	})
	frozen := r.Frozen(time.Second, at)
	// (pt-T101.LSHH flips on every update, but gopcua's server queues one
	// value per item, so with two updates per publishing interval it may
	// look frozen too; it is not checked.)
	isFrozen := map[string]bool{}
	for _, st := range frozen {
		isFrozen[st.PointID] = true
	}
	if !isFrozen["stuck"] || isFrozen["pt-T101.LT"] || isFrozen["pt-T102.PT"] || isFrozen["pt-T101.CNT"] || isFrozen["pt-T101.TAG"] {
		t.Fatalf("frozen %+v, want the stuck point and none of the moving ones", frozen)
	}
	for _, st := range r.PointStates() {
		if st.LastSample.IsZero() || st.LastChange.IsZero() {
			t.Errorf("state %+v", st)
		}
	}
}

// Poll mode reads every point each poll interval and delivers only what
// changed: every point arrives, source times strictly increase per point.
func TestReaderPollMode(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOptions{update: 100 * time.Millisecond})
	src := plantSource(ts.endpoint)
	src.ReadMode, src.PollInterval = "poll", config.Duration(30*time.Millisecond)
	rec := &recorder{}
	r := New(src, rec, testLogger(t))
	stop := running(t, r)
	waitFor(t, "polled samples", 10*time.Second, func() bool { return everyPoint(rec.samples(time.Time{}), 4) })
	stop()
	got := rec.samples(time.Time{})
	checkPlantSamples(t, got)
	polls := r.Stats().Polls
	// about three polls per update: most find nothing new.
	if n := len(got["pt-T101.LT"]); uint64(n) >= polls {
		t.Errorf("%d samples in %d polls: unchanged values were sent again", n, polls)
	}
	if ts.reads.Load() < int64(polls) {
		t.Errorf("%d reads for %d polls", ts.reads.Load(), polls)
	}
}

// Two readers, one per server: the one whose server is down keeps
// retrying while the other delivers.
func TestServersIndependent(t *testing.T) {
	t.Parallel()
	up := startServer(t, serverOptions{update: 50 * time.Millisecond})
	down := plantSource("opc.tcp://127.0.0.1:" + itoa(freePort(t)))
	down.Name = "down"
	recUp, recDown := &recorder{}, &recorder{}
	rUp, rDown := New(plantSource(up.endpoint), recUp, testLogger(t)), New(down, recDown, testLogger(t))
	running(t, rDown)
	running(t, rUp)
	waitFor(t, "samples from the server that is up", 10*time.Second, func() bool { return everyPoint(recUp.samples(time.Time{}), 3) })
	if recDown.count() != 0 || rDown.Stats().Connected || rDown.Stats().Reconnects == 0 {
		t.Errorf("down reader: %+v", rDown.Stats())
	}
}

// A subscription that keeps sending keep-alives but no data while the
// values change is found by the heartbeat's sample reads and the session
// is rebuilt; a healthy subscription under the same checks is left alone.
func TestSilentSubscriptionRebuilt(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOptions{update: 50 * time.Millisecond})
	rec := &recorder{}
	r := New(plantSource(ts.endpoint), rec, testLogger(t))
	r.heartbeatEvery = 100 * time.Millisecond
	running(t, r)
	waitFor(t, "samples", 10*time.Second, func() bool { return everyPoint(rec.samples(time.Time{}), 1) })
	// Healthy data checked ten times: no false alarm. Counted, not timed:
	// a loaded machine may fit fewer checks into a second.
	waitFor(t, "ten heartbeats", 20*time.Second, func() bool { return r.Stats().Heartbeats >= 10 })
	if st := r.Stats(); st.DeadSubscriptions != 0 || st.Reconnects != 0 {
		t.Fatalf("healthy subscription: stats %+v, want no dead subscription or reconnect", st)
	}

	ts.deaf.Store(true)
	deafened := time.Now()
	waitFor(t, "the silent subscription to be found", 5*time.Second, func() bool { return r.Stats().DeadSubscriptions >= 1 })
	found := time.Since(deafened)
	waitFor(t, "the session to be rebuilt", 5*time.Second, func() bool { return r.Stats().Reconnects >= 1 })
	if st := r.Stats(); st.DeadSubscriptions != 1 {
		t.Errorf("stats %+v, want exactly one dead subscription", st)
	}
	resumed := time.Now()
	waitFor(t, "samples on the new session", 10*time.Second, func() bool { return everyPoint(rec.samples(resumed), 2) })
	if st := r.Stats(); st.DeadSubscriptions != 1 || !st.Connected {
		t.Errorf("stats after recovery %+v, want one dead subscription and connected", st)
	}
	t.Logf("silent subscription found after %s", found.Round(time.Millisecond))
}
