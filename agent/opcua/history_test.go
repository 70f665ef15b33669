package opcua

import (
	"slices"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// historySource reads node-opcua's Counter (a change every 200 ms) and
// Steady (never changing) through endpoint.
func historySource(endpoint string) config.Source {
	s := config.Source{
		Name:               "node-opcua-history",
		Endpoint:           endpoint,
		PublishingInterval: config.Duration(100 * time.Millisecond),
		SamplingInterval:   config.Duration(50 * time.Millisecond),
		ReconnectMin:       config.Duration(200 * time.Millisecond),
		ReconnectMax:       config.Duration(time.Second),
		Points: []config.Point{
			{ID: "CNT", Node: "nsu=" + nodeNS + ";s=Plant.Counter"},
			{ID: "STEADY", Node: "nsu=" + nodeNS + ";s=Plant.Steady"},
		},
	}
	config.SourceDefaults(&s)
	return s
}

// counterValues returns the counter's samples in value order, split into
// those read live and those read from history.
func counterValues(rec *gapRecorder) (live, history []float64) {
	for _, s := range rec.samples(time.Time{})["CNT"] {
		if s.GetHistory() {
			history = append(history, s.GetNumber())
		} else {
			live = append(live, s.GetNumber())
		}
	}
	slices.Sort(live)
	slices.Sort(history)
	return live, history
}

// checkExactlyOnce checks that every value the counter took from the first
// one read to the last is there exactly once and, with oneHole, that the
// values read from history are exactly those of the hole the live ones
// leave.
func checkExactlyOnce(t *testing.T, rec *gapRecorder, oneHole bool) (history int) {
	t.Helper()
	live, hist := counterValues(rec)
	all := slices.Sorted(slices.Values(append(slices.Clone(live), hist...)))
	if len(all) == 0 {
		t.Fatal("no counter samples")
	}
	for i := 1; i < len(all); i++ {
		if all[i] != all[i-1]+1 {
			t.Fatalf("counter values not each once: %v follows %v (%d live, %d from history)", all[i], all[i-1], len(live), len(hist))
		}
	}
	if len(hist) == 0 {
		t.Fatal("nothing read from history")
	}
	lo, hi := hist[0], hist[len(hist)-1]
	for _, v := range live {
		if oneHole && v >= lo && v <= hi {
			t.Fatalf("live value %v inside the values read from history [%v, %v]", v, lo, hi)
		}
	}
	for _, s := range rec.samples(time.Time{})["STEADY"] {
		if s.GetHistory() {
			t.Errorf("the steady point read back from history: %v", s)
		}
	}
	return len(hist)
}

func onlyGap(t *testing.T, rec *gapRecorder, reason string) *lifelinev1.Gap {
	t.Helper()
	gaps := rec.recorded()
	if len(gaps) != 1 || gaps[0].GetReason() != reason {
		t.Fatalf("gaps %v, want one %s", gaps, reason)
	}
	return gaps[0]
}

// The agent stops for 30 s while the counter changes; after the restart
// every change of the window is delivered once, flagged History, and the
// agent_stopped gap says it was recovered.
func TestHistoryBackfillAfterStop(t *testing.T) {
	t.Parallel()
	srv := startNodeServerEnv(t, []string{"LIFELINE_HISTORY=1"})
	src := historySource(srv.endpoint)
	dir := t.TempDir()
	rec := &gapRecorder{}

	stop := running(t, New(src, rec, testLogger(t), WithHistoryDir(dir)))
	waitFor(t, "live counter values", 20*time.Second, func() bool { return len(rec.samples(time.Time{})["CNT"]) >= 20 })
	stop()
	stoppedAt := time.Now()
	time.Sleep(30 * time.Second)

	gap := &lifelinev1.Gap{FromNs: stoppedAt.UnixNano(), ToNs: time.Now().UnixNano(), Reason: GapAgentStopped}
	r := New(src, rec, testLogger(t), WithHistoryDir(dir), WithStoppedGap(gap))
	restarted := time.Now()
	stop = running(t, r)
	waitFor(t, "the agent_stopped gap", 30*time.Second, func() bool { return len(rec.recorded()) > 0 })
	backfilled := time.Since(restarted)
	after := time.Now()
	waitFor(t, "live values after the backfill", 10*time.Second, func() bool { return len(rec.samples(after)["CNT"]) > 0 })
	time.Sleep(time.Second)
	stop()

	n := checkExactlyOnce(t, rec, true)
	if n < 120 {
		t.Errorf("%d values read back from history for 30 s of a change every 200 ms", n)
	}
	g := onlyGap(t, rec, GapAgentStopped)
	if g.GetRecovery() != RecoveryRecovered || g.GetRecovered() != uint64(n) || len(g.GetUnrecoveredPointIds()) != 0 ||
		!slices.Equal(g.GetPointIds(), []string{"CNT", "STEADY"}) {
		t.Errorf("gap %v, want recovered with %d samples", g, n)
	}
	if st := r.Stats(); st.HistoryRecovered != uint64(n) || st.Backfills != 1 {
		t.Errorf("stats: %d recovered in %d backfills", st.HistoryRecovered, st.Backfills)
	}
	t.Logf("stopped 30 s: %d values read back from history, gap recorded %v after the restart", n, backfilled.Round(time.Millisecond))
}

// The session is lost while the agent runs (the connection cut for 10 s):
// the values of the outage are read back once and the source_unavailable
// gap says so.
func TestHistoryBackfillAfterLostSession(t *testing.T) {
	t.Parallel()
	srv := startNodeServerEnv(t, []string{"LIFELINE_HISTORY=1"})
	port := freePort(t)
	backend := srv.endpoint[len("opc.tcp://"):]
	px := listenProxy(t, port, backend)
	src := historySource("opc.tcp://127.0.0.1:" + itoa(port))
	// Small pages: the window takes several continuation points.
	rec := &gapRecorder{}
	r := New(src, rec, testLogger(t), WithHistoryDir(t.TempDir()))
	r.history.valuesPerNode = 17
	stop := running(t, r)
	waitFor(t, "live counter values", 20*time.Second, func() bool { return len(rec.samples(time.Time{})["CNT"]) >= 20 })
	if len(rec.recorded()) != 0 {
		t.Fatalf("gaps before any outage: %v", rec.recorded())
	}

	px.close()
	time.Sleep(10 * time.Second)
	px = listenProxy(t, port, backend)
	defer px.close()
	waitFor(t, "the source_unavailable gap", 30*time.Second, func() bool { return len(rec.recorded()) > 0 })
	time.Sleep(time.Second)
	stop()

	n := checkExactlyOnce(t, rec, true)
	if n < 40 {
		t.Errorf("%d values read back from history for 10 s of a change every 200 ms", n)
	}
	g := onlyGap(t, rec, GapSourceUnavailable)
	if g.GetRecovery() != RecoveryRecovered || g.GetRecovered() != uint64(n) {
		t.Errorf("gap %v, want recovered with %d samples", g, n)
	}
	t.Logf("session lost 10 s: %d values read back in pages of 17", n)
}

// A server without history: the gaps of a stop and of a lost session say
// not_available, and the server is asked once.
func TestHistoryNotAvailable(t *testing.T) {
	t.Parallel()
	srv := startNodeServer(t)
	port := freePort(t)
	backend := srv.endpoint[len("opc.tcp://"):]
	px := listenProxy(t, port, backend)
	src := historySource("opc.tcp://127.0.0.1:" + itoa(port))
	rec := &gapRecorder{}
	now := time.Now()
	gap := &lifelinev1.Gap{FromNs: now.Add(-time.Minute).UnixNano(), ToNs: now.UnixNano(), Reason: GapAgentStopped}
	r := New(src, rec, testLogger(t), WithHistoryDir(t.TempDir()), WithStoppedGap(gap))
	stop := running(t, r)
	waitFor(t, "the agent_stopped gap", 20*time.Second, func() bool { return len(rec.recorded()) > 0 })

	px.close()
	time.Sleep(2 * time.Second)
	px = listenProxy(t, port, backend)
	defer px.close()
	waitFor(t, "the source_unavailable gap", 20*time.Second, func() bool { return len(rec.recorded()) > 1 })
	stop()

	gaps := rec.recorded()
	if len(gaps) != 2 || gaps[0].GetReason() != GapAgentStopped || gaps[1].GetReason() != GapSourceUnavailable {
		t.Fatalf("gaps %v", gaps)
	}
	for _, g := range gaps {
		if g.GetRecovery() != RecoveryNotAvailable || g.GetRecovered() != 0 {
			t.Errorf("gap %v, want not_available", g)
		}
	}
	if n := r.historyProbes.Load(); n != 1 {
		t.Errorf("server asked about history %d times, want once", n)
	}
	for _, s := range rec.samples(time.Time{})["CNT"] {
		if s.GetHistory() {
			t.Fatalf("a value from history of a server without: %v", s)
		}
	}
}

// A backfill cut short (the agent stopped again in the middle of it) goes
// on from where it was at the next start: every value still once, both
// stops' gaps recorded then, with every value read back counted.
func TestHistoryBackfillResumesAfterCutShort(t *testing.T) {
	t.Parallel()
	srv := startNodeServerEnv(t, []string{"LIFELINE_HISTORY=1"})
	src := historySource(srv.endpoint)
	dir := t.TempDir()
	rec := &gapRecorder{}
	stoppedGap := func(from time.Time) *lifelinev1.Gap {
		return &lifelinev1.Gap{FromNs: from.UnixNano(), ToNs: time.Now().UnixNano(), Reason: GapAgentStopped}
	}

	stop := running(t, New(src, rec, testLogger(t), WithHistoryDir(dir)))
	waitFor(t, "live counter values", 20*time.Second, func() bool { return len(rec.samples(time.Time{})["CNT"]) >= 10 })
	stop()
	stopped := time.Now()
	time.Sleep(12 * time.Second)

	// Slow pages: 5 values each, 300 ms apart; stopped after a few.
	slow := New(src, rec, testLogger(t), WithHistoryDir(dir), WithStoppedGap(stoppedGap(stopped)))
	slow.history.valuesPerNode, slow.history.pause = 5, 300*time.Millisecond
	stop = running(t, slow)
	waitFor(t, "some values read back", 20*time.Second, func() bool { return slow.Stats().HistoryRecovered >= 10 })
	stop()
	stopped = time.Now()
	if n := len(rec.recorded()); n != 0 {
		t.Fatalf("%d gaps recorded by a backfill cut short", n)
	}
	partial := slow.Stats().HistoryRecovered
	time.Sleep(3 * time.Second)

	r := New(src, rec, testLogger(t), WithHistoryDir(dir), WithStoppedGap(stoppedGap(stopped)))
	stop = running(t, r)
	waitFor(t, "both gaps", 30*time.Second, func() bool { return len(rec.recorded()) >= 2 })
	time.Sleep(time.Second)
	stop()

	n := checkExactlyOnce(t, rec, false)
	gaps := rec.recorded()
	var sum uint64
	for _, g := range gaps {
		if g.GetReason() != GapAgentStopped || g.GetRecovery() != RecoveryRecovered {
			t.Errorf("gap %v, want agent_stopped recovered", g)
		}
		sum += g.GetRecovered()
	}
	if len(gaps) != 2 || sum != uint64(n) || partial >= uint64(n) {
		t.Errorf("%d gaps counting %d values; %d read back in all, %d before the cut", len(gaps), sum, n, partial)
	}
	t.Logf("cut short after %d of %d values; the rest read back at the next start", partial, n)
}
