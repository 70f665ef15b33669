package opcua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// recorder is a Sink that keeps every batch.
type recorder struct {
	mu      sync.Mutex
	batches [][]*lifelinev1.Sample
}

func (r *recorder) Write(samples []*lifelinev1.Sample) {
	r.mu.Lock()
	r.batches = append(r.batches, samples)
	r.mu.Unlock()
}

// samples returns every sample received after t (by receive time), per
// point ID.
func (r *recorder) samples(after time.Time) map[string][]*lifelinev1.Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]*lifelinev1.Sample{}
	for _, b := range r.batches {
		for _, s := range b {
			if s.ReceiveTimeNs > after.UnixNano() {
				out[s.PointId] = append(out[s.PointId], s)
			}
		}
	}
	return out
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, b := range r.batches {
		n += len(b)
	}
	return n
}

// plantSource configures every plant variable as a point whose ID differs
// from the node name ("pt-T101.LT"), so the mapping is by handle, not name.
func plantSource(endpoint string, extra ...config.Point) config.Source {
	src := config.Source{
		Name:               "plant",
		Endpoint:           endpoint,
		PublishingInterval: config.Duration(100 * time.Millisecond),
		SamplingInterval:   config.Duration(50 * time.Millisecond),
		QueueSize:          10,
		ReconnectMin:       config.Duration(50 * time.Millisecond),
		ReconnectMax:       config.Duration(500 * time.Millisecond),
	}
	config.SourceDefaults(&src)
	for _, v := range plantVars {
		src.Points = append(src.Points, config.Point{ID: "pt-" + v.name, Node: node(v.name)})
	}
	src.Points = append(src.Points, extra...)
	return src
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// running starts r.Run and returns a stop function that cancels it and
// checks that it returns nil promptly.
func running(t *testing.T, r *Reader) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v after cancel, want nil", err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("Run did not return within 5s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// everyPoint reports whether every plant point has at least n samples.
func everyPoint(got map[string][]*lifelinev1.Sample, n int) bool {
	for _, v := range plantVars {
		if len(got["pt-"+v.name]) < n {
			return false
		}
	}
	return true
}

// checkPlantSamples checks types, identity and time order of the samples.
func checkPlantSamples(t *testing.T, got map[string][]*lifelinev1.Sample) {
	t.Helper()
	for id, ss := range got {
		name, ok := strings.CutPrefix(id, "pt-")
		if !ok {
			t.Errorf("sample for unexpected point %q", id)
			continue
		}
		v, ok := varOf(name)
		if !ok {
			t.Errorf("sample for unknown point %q", id)
			continue
		}
		var last int64
		for _, s := range ss {
			if s.Status != 0 {
				t.Errorf("%s: status 0x%08X, want Good", id, s.Status)
			}
			if s.SourceTimeNs < last {
				t.Errorf("%s: source time went backwards: %d after %d", id, s.SourceTimeNs, last)
			}
			last = s.SourceTimeNs
			if s.ServerTimeNs == 0 || s.ReceiveTimeNs == 0 {
				t.Errorf("%s: server time %d, receive time %d: want both set", id, s.ServerTimeNs, s.ReceiveTimeNs)
			}
			if err := matches(v, s); err != nil {
				t.Errorf("%s: %v", id, err)
			}
		}
	}
}

// matches reports whether sample s can be a value of variable v.
func matches(v testVar, s *lifelinev1.Sample) error {
	switch want := v.value(0).(type) {
	case float64:
		n, ok := s.Value.(*lifelinev1.Sample_Number)
		if !ok {
			return fmt.Errorf("value %v, want a number", s.Value)
		}
		if k := int(n.Number / 1e6); float64(k) != float64(int(want/1e6)) {
			return fmt.Errorf("value %v belongs to variable %d, want %d", n.Number, k, int(want/1e6))
		}
	case int32:
		n, ok := s.Value.(*lifelinev1.Sample_Number)
		if !ok || n.Number < 0 {
			return fmt.Errorf("value %v, want a non-negative number", s.Value)
		}
	case bool:
		if _, ok := s.Value.(*lifelinev1.Sample_Flag); !ok {
			return fmt.Errorf("value %v, want a flag", s.Value)
		}
	case string:
		txt, ok := s.Value.(*lifelinev1.Sample_Text)
		prefix, _, _ := strings.Cut(want, "#")
		if !ok || !strings.HasPrefix(txt.Text, prefix+"#") {
			return fmt.Errorf("value %v, want text %q#n", s.Value, prefix)
		}
	}
	return nil
}

func TestReaderDeliversSamples(t *testing.T) {
	ts := startServer(t, serverOptions{update: 50 * time.Millisecond})
	src := plantSource(ts.endpoint,
		config.Point{ID: "missing-node", Node: node("NO.SUCH.NODE")},
		config.Point{ID: "missing-ns", Node: "nsu=urn:test:nowhere;s=T101.LT"},
	)
	sink := &recorder{}
	r := New(src, sink, testLogger(t))
	start := time.Now()
	stop := running(t, r)

	waitFor(t, "3 samples of every point", 10*time.Second, func() bool { return everyPoint(sink.samples(start), 3) })
	st := r.Stats()
	if !st.Connected {
		t.Error("Stats.Connected = false while samples flow")
	}
	if st.BadItems != 1 || st.Unresolved != 1 {
		t.Errorf("BadItems, Unresolved = %d, %d; want 1, 1", st.BadItems, st.Unresolved)
	}
	stop()

	got := sink.samples(start)
	for _, id := range []string{"missing-node", "missing-ns"} {
		if len(got[id]) != 0 {
			t.Errorf("%d samples for %s, want none", len(got[id]), id)
		}
	}
	checkPlantSamples(t, got)
	if n := sink.count(); r.Stats().Received != uint64(n) {
		t.Errorf("Stats.Received = %d, sink got %d", r.Stats().Received, n)
	}
	if r.Stats().Connected {
		t.Error("Stats.Connected = true after Run returned")
	}
	sink.mu.Lock()
	batches := len(sink.batches)
	sink.mu.Unlock()
	if batches >= sink.count() {
		t.Errorf("%d Write calls for %d samples: want batches, not one call per sample", batches, sink.count())
	}
}

func TestReaderReconnectsAndReresolves(t *testing.T) {
	first := startServer(t, serverOptions{update: 50 * time.Millisecond})
	sink := &recorder{}
	r := New(plantSource(first.endpoint), sink, testLogger(t))
	start := time.Now()
	running(t, r)
	waitFor(t, "samples from the first server", 10*time.Second, func() bool { return everyPoint(sink.samples(start), 2) })

	first.stop()
	waitFor(t, "the reader to notice the server is gone", 5*time.Second, func() bool { return !r.Stats().Connected })

	// Same port, but two namespaces full of same-named decoys now come
	// before the plant's: its index moves from 1 to 3.
	second := startServer(t, serverOptions{
		port:   first.port,
		before: []string{"urn:test:decoy-a", "urn:test:decoy-b"},
		update: 50 * time.Millisecond,
	})
	if second.nsIdx == first.nsIdx {
		t.Fatalf("namespace index did not change (%d)", second.nsIdx)
	}
	restarted := time.Now()
	waitFor(t, "samples from the restarted server", 10*time.Second, func() bool { return everyPoint(sink.samples(restarted), 3) })
	checkPlantSamples(t, sink.samples(start))
	if st := r.Stats(); st.Reconnects < 1 || !st.Connected {
		t.Errorf("Stats = %+v, want Reconnects >= 1 and Connected", st)
	}
}

func TestReaderWatchdog(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOptions{update: 50 * time.Millisecond})
	sink := &recorder{}
	// A 50 ms publishing interval: keep-alives every 2 s, watchdog 6 s.
	src := plantSource(ts.endpoint)
	src.PublishingInterval = config.Duration(50 * time.Millisecond)
	r := New(src, sink, testLogger(t))
	start := time.Now()
	running(t, r)
	waitFor(t, "samples", 10*time.Second, func() bool { return everyPoint(sink.samples(start), 1) })

	// The server stops answering publish requests; the channel stays up.
	ts.muted.Store(true)
	muted := time.Now()
	p := newSubscriptionParams(src.PublishingInterval.D())
	wd := watchdogFor(p.publishingInterval, p.keepAliveCount)
	waitFor(t, "the watchdog to rebuild the session", wd+5*time.Second, func() bool { return r.Stats().Reconnects >= 1 })
	// The last publish request may have been waiting up to a keep-alive
	// period when the server went mute.
	if d, ka := time.Since(muted), p.publishingInterval*time.Duration(p.keepAliveCount); d < wd-ka {
		t.Errorf("session rebuilt %s after publishing stopped: too early for the %s watchdog", d, wd)
	}

	ts.muted.Store(false)
	resumed := time.Now()
	waitFor(t, "samples after the watchdog fired", 10*time.Second, func() bool { return everyPoint(sink.samples(resumed), 1) })
}

func TestReaderManyPoints(t *testing.T) {
	const n = 2100
	vars := make([]testVar, n)
	src := plantSource("")
	src.Points = nil
	for i := range vars {
		vars[i] = testVar{name: fmt.Sprintf("V%04d", i), value: identityFloat(i + 1)}
		src.Points = append(src.Points, config.Point{ID: fmt.Sprintf("p%04d", i), Node: node(vars[i].name)})
	}
	ts := startServer(t, serverOptions{vars: vars})
	src.Endpoint = ts.endpoint
	sink := &recorder{}
	r := New(src, sink, testLogger(t))
	start := time.Now()
	stop := running(t, r)
	waitFor(t, "a sample of every point", 10*time.Second, func() bool { return len(sink.samples(start)) == n })
	stop()
	if calls, biggest := ts.calls.Load(), ts.maxReq.Load(); calls != 3 || biggest != defaultChunk {
		t.Errorf("CreateMonitoredItems: %d calls, largest %d items; want 3 calls of at most %d", calls, biggest, defaultChunk)
	}
	for id, ss := range sink.samples(start) {
		var i int
		fmt.Sscanf(id, "p%04d", &i)
		want := float64(i+1) * 1e6
		if num, ok := ss[0].Value.(*lifelinev1.Sample_Number); !ok || num.Number != want {
			t.Errorf("%s = %v, want %v", id, ss[0].Value, want)
		}
	}
}

func TestRunUnsupportedSecurity(t *testing.T) {
	src := plantSource("opc.tcp://127.0.0.1:1")
	src.SecurityPolicy, src.SecurityMode = "Basic256Sha256", "None"
	err := New(src, &recorder{}, nil).Run(context.Background())
	if !errors.Is(err, ErrUnsupportedSecurity) {
		t.Fatalf("Run = %v, want ErrUnsupportedSecurity", err)
	}
	if !strings.Contains(err.Error(), "Basic256Sha256") {
		t.Errorf("error %q does not name the policy", err)
	}
}

func TestRunCancelWhileServerDown(t *testing.T) {
	src := plantSource(fmt.Sprintf("opc.tcp://127.0.0.1:%d", freePort(t)))
	r := New(src, &recorder{}, testLogger(t))
	stop := running(t, r)
	waitFor(t, "a few failed attempts", 5*time.Second, func() bool { return r.Stats().Reconnects >= 2 })
	begin := time.Now()
	stop()
	if d := time.Since(begin); d > time.Second {
		t.Errorf("Run took %s to return after cancel", d)
	}
}

// A server that allows 50 monitored items per subscription gets 120
// points spread over three subscriptions, created in paced calls, and
// every point delivers.
func TestReaderSplitsSubscriptions(t *testing.T) {
	t.Parallel()
	const n, limit = 120, 50
	vars := make([]testVar, n)
	src := plantSource("")
	src.Points = nil
	for i := range vars {
		vars[i] = testVar{name: fmt.Sprintf("S%03d", i), value: identityFloat(i + 1)}
		src.Points = append(src.Points, config.Point{ID: fmt.Sprintf("s%03d", i), Node: node(vars[i].name)})
	}
	ts := startServer(t, serverOptions{vars: vars, maxItemsPerSub: limit, update: 100 * time.Millisecond})
	src.Endpoint = ts.endpoint
	sink := &recorder{}
	r := New(src, sink, testLogger(t))
	r.monitorPause = 50 * time.Millisecond
	start := time.Now()
	stop := running(t, r)
	waitFor(t, "two samples of every point", 10*time.Second, func() bool {
		got := sink.samples(start)
		if len(got) < n {
			return false
		}
		for _, ss := range got {
			if len(ss) < 2 {
				return false
			}
		}
		return true
	})
	stop()
	ts.mu.Lock()
	perSub := maps.Clone(ts.perSub)
	calls := slices.Clone(ts.callTimes)
	ts.mu.Unlock()
	if len(calls) != 3 {
		t.Errorf("%d CreateMonitoredItems calls, want 3", len(calls))
	}
	for i := 1; i < len(calls); i++ {
		if gap := calls[i].Sub(calls[i-1]); gap < r.monitorPause {
			t.Errorf("CreateMonitoredItems call %d came %s after the previous one, want a pause of at least %s", i+1, gap, r.monitorPause)
		}
	}
	if len(perSub) != 3 {
		t.Errorf("items per subscription %v, want 3 subscriptions", perSub)
	}
	for id, k := range perSub {
		if k > limit {
			t.Errorf("subscription %d has %d items, over the limit of %d", id, k, limit)
		}
	}
	if st := r.Stats(); st.BadItems != 0 || st.Reconnects != 0 {
		t.Errorf("stats %+v, want no refused items and no reconnect", st)
	}
	for id, ss := range sink.samples(start) {
		var i int
		fmt.Sscanf(id, "s%03d", &i)
		for _, s := range ss {
			if k := int(s.GetNumber() / 1e6); k != i+1 {
				t.Fatalf("%s got value %v of variable %d", id, s.GetNumber(), k)
			}
		}
	}
}

// A server that queues fewer publish requests than the reader offers
// answers the extra ones with BadTooManyPublishRequests; the reader sends
// fewer and goes on, without reconnecting.
func TestReaderSendsFewerPublishRequestsWhenRefused(t *testing.T) {
	ts := startServer(t, serverOptions{update: 50 * time.Millisecond, refusePublish: 1})
	sink := &recorder{}
	r := New(plantSource(ts.endpoint), sink, testLogger(t))
	start := time.Now()
	stop := running(t, r)
	waitFor(t, "3 samples of every point", 10*time.Second, func() bool { return everyPoint(sink.samples(start), 3) })
	stop()
	if ts.refusePublish.Load() >= 0 {
		t.Fatal("the server refused no publish request")
	}
	if n := r.Stats().Reconnects; n != 0 {
		t.Fatalf("%d reconnects after a refused publish request, want 0", n)
	}
	checkPlantSamples(t, sink.samples(start))
}
