package opcua

import (
	"slices"
	"sync"
	"testing"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// liveRecorder is a sink that also keeps liveness records.
type liveRecorder struct {
	recorder
	lmu   sync.Mutex
	alive []*lifelinev1.Liveness
}

func (l *liveRecorder) RecordLiveness(rec *lifelinev1.Liveness) {
	l.lmu.Lock()
	l.alive = append(l.alive, rec)
	l.lmu.Unlock()
}

// aliveSpans returns the starts of the spans in which point was recorded
// alive.
func (l *liveRecorder) aliveSpans(point string) []time.Time {
	l.lmu.Lock()
	defer l.lmu.Unlock()
	var out []time.Time
	for _, rec := range l.alive {
		if slices.Contains(rec.GetPointIds(), point) {
			out = append(out, time.Unix(0, rec.GetMinuteNs()))
		}
	}
	return out
}

// A steady point (node-opcua's Steady, never changing) is alive in every
// span while its server is read, and in none while the connection is cut;
// a point that changes all the time is online by its samples and listed
// in no span in which it delivered a value. Spans of one second stand for
// minutes.
func TestSteadyPointAliveWhileRead(t *testing.T) {
	t.Parallel()
	srv := startNodeServer(t)
	port := freePort(t)
	backend := srv.endpoint[len("opc.tcp://"):]
	px := listenProxy(t, port, backend)
	src := historySource("opc.tcp://127.0.0.1:" + itoa(port))
	rec := &liveRecorder{}
	r := New(src, rec, testLogger(t))
	r.livenessEvery = time.Second
	stop := running(t, r)
	waitFor(t, "reading", 20*time.Second, func() bool { return r.Stats().Connected })
	up := time.Now()
	time.Sleep(4 * time.Second)
	px.close()
	cut := time.Now()
	time.Sleep(4 * time.Second)
	px = listenProxy(t, port, backend)
	defer px.close()
	waitFor(t, "reading again", 20*time.Second, func() bool { return r.Stats().Connected })
	back := time.Now()
	time.Sleep(3 * time.Second)
	stop()

	spans := rec.aliveSpans("STEADY")
	alive := func(s time.Time) bool { return slices.ContainsFunc(spans, s.Equal) }
	for s := up.Truncate(time.Second).Add(time.Second); s.Add(time.Second).Before(cut); s = s.Add(time.Second) {
		if !alive(s) {
			t.Errorf("span %v, server read: steady point not alive (alive in %v)", s, spans)
		}
	}
	for s := cut.Truncate(time.Second); s.Before(back); s = s.Add(time.Second) {
		if alive(s) {
			t.Errorf("span %v, connection cut: steady point alive", s)
		}
	}
	if s := back.Truncate(time.Second).Add(time.Second); !alive(s) {
		t.Errorf("span %v, read again: steady point not alive (alive in %v)", s, spans)
	}
	// node-opcua samples its counter on a timer that skips while it is
	// busy: a span in which the counter delivered nothing is alive.
	for _, s := range rec.aliveSpans("CNT") {
		for _, v := range rec.samples(time.Time{})["CNT"] {
			if src := time.Unix(0, v.SourceTimeNs); !src.Before(s) && src.Before(s.Add(time.Second)) {
				t.Errorf("span %v: the changing point listed alive, but it delivered a value at %v", s, src)
				break
			}
		}
	}
}
