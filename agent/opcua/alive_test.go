package opcua

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/config"
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
	// The cut falls mid-span: a response the server sent just before it
	// may be taken from the socket a little after, which on a loaded
	// machine could carry the reader past a span's end.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1500 * time.Millisecond)))
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
	// A span's record waits until the server is heard from after its end,
	// so only spans that ended well before the cut are sure to have one.
	for s := up.Truncate(time.Second).Add(time.Second); s.Add(2 * time.Second).Before(cut); s = s.Add(time.Second) {
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

// A span's record waits until the server is heard from after its end: a
// connection lost just before the end and noticed after it leaves the
// span without a record (its gap starts inside the span), while one lost
// after the server answered past the end does not take the record away.
// At the reader's stop, a session still reading or ended by the stop
// keeps its records: nothing more will be heard, and no source gap
// follows.
func TestLivenessSettlesOnContactAfterTheSpan(t *testing.T) {
	start := time.Unix(1_700_000_000, 0).Truncate(time.Minute)
	end := start.Add(time.Minute)
	stopping, stop := context.WithCancel(context.Background())
	stop()
	for _, tc := range []struct {
		name   string
		events func(r *Reader)
		final  bool   // settled at the reader's stop
		want   string // after the events; "" waits, "-" dropped
	}{
		{"no word since the end", func(r *Reader) {}, false, ""},
		{"lost before the end, noticed after", func(r *Reader) { r.notReading(context.Background()) }, false, "-"},
		{"heard after the end", func(r *Reader) { r.outage.touch(end.Add(50 * time.Millisecond)) }, false, "[STEADY]"},
		{"heard after the end, then lost", func(r *Reader) {
			r.outage.touch(end.Add(50 * time.Millisecond))
			r.notReading(context.Background())
		}, false, "[STEADY]"},
		{"lost, and read again by another session", func(r *Reader) {
			r.notReading(context.Background())
			r.outage.began(end.Add(time.Second).UnixNano())
			r.outage.touch(end.Add(2 * time.Second))
		}, false, "-"},
		{"the reader stops while reading", func(r *Reader) {}, true, "[STEADY]"},
		{"the reader stops, ending the session", func(r *Reader) { r.notReading(stopping) }, true, "[STEADY]"},
		{"lost, then the reader stops", func(r *Reader) { r.notReading(context.Background()) }, true, "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Reader{states: newPointStates([]string{"STEADY"})}
			r.states.setSpan(time.Minute)
			session := start.Add(-time.Hour).UnixNano()
			r.outage.began(session)
			r.states.update([]*lifelinev1.Sample{{PointId: "STEADY", SourceTimeNs: start.Add(-time.Second).UnixNano(),
				ReceiveTimeNs: start.Add(-time.Second).UnixNano(), Value: &lifelinev1.Sample_Number{Number: 1}}})
			r.outage.touch(end.Add(-100 * time.Millisecond))
			ids, session := r.aliveWithoutChange(start, end)
			waiting := []unsettled{{start: start, end: end, session: session, ids: ids}}
			rec := &liveRecorder{}
			if waiting = r.settleLiveness(waiting, rec, false); len(waiting) != 1 || len(rec.alive) != 0 {
				t.Fatalf("settled before the server was heard from after the span: %d waiting, records %v", len(waiting), rec.alive)
			}
			tc.events(r)
			waiting = r.settleLiveness(waiting, rec, tc.final)
			got := fmt.Sprint(rec.aliveSpans("STEADY"))
			switch {
			case tc.want == "" && (len(waiting) != 1 || len(rec.alive) != 0):
				t.Errorf("settled with nothing heard: %d waiting, records %v", len(waiting), got)
			case tc.want == "-" && (len(waiting) != 0 || len(rec.alive) != 0):
				t.Errorf("want the record dropped: %d waiting, records %v", len(waiting), got)
			case tc.want != "" && tc.want != "-" && (len(waiting) != 0 || len(rec.alive) != 1 || fmt.Sprint(rec.alive[0].GetPointIds()) != tc.want ||
				rec.alive[0].GetMinuteNs() != start.UnixNano()):
				t.Errorf("want %s recorded for %v: %d waiting, records %v", tc.want, start, len(waiting), rec.alive)
			}
		})
	}
}

// A source polled less often than once a span keeps every span's record
// waiting until the next poll answers, instead of dropping the oldest.
func TestLivenessWaitsForASlowPoll(t *testing.T) {
	r := &Reader{}
	if got := r.unsettledLimit(time.Minute); got < 4 {
		t.Errorf("subscription: %d records may wait, want at least 4", got)
	}
	r.base.ReadMode, r.base.PollInterval = "poll", config.Duration(10*time.Minute)
	if got := r.unsettledLimit(time.Minute); got < 11 {
		t.Errorf("polled every 10 min: %d records may wait, want at least 11", got)
	}
}

// The liveness loop lists a span only once the server was heard from
// after it: while contact comes, spans are recorded; once it stops and the
// session is lost only later, no span ending after the last contact is
// listed, however long the loss took to notice.
func TestLivenessLoopListsNoSpanAfterTheLastContact(t *testing.T) {
	const every = 200 * time.Millisecond
	r := &Reader{states: newPointStates([]string{"STEADY"}), livenessEvery: every}
	r.reading()
	now := time.Now()
	r.states.update([]*lifelinev1.Sample{{PointId: "STEADY", SourceTimeNs: now.UnixNano(), ReceiveTimeNs: now.UnixNano(),
		Value: &lifelinev1.Sample_Number{Number: 1}}})
	rec := &liveRecorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.runLiveness(ctx, rec)
	}()
	defer func() { cancel(); <-done }()

	stopTouching := make(chan struct{})
	touched := make(chan time.Time)
	go func() { // publish responses
		var last time.Time
		defer func() { touched <- last }()
		for {
			select {
			case <-stopTouching:
				return
			case <-time.After(10 * time.Millisecond):
				last = time.Now()
				r.outage.touch(last)
			}
		}
	}()
	waitFor(t, "spans listed while the server answers", 10*time.Second, func() bool { return len(rec.aliveSpans("STEADY")) >= 2 })
	close(stopTouching)
	lastContact := <-touched
	time.Sleep(3 * every) // the loss is noticed spans later
	r.notReading(context.Background())
	time.Sleep(2 * every)
	cancel()
	<-done
	for _, s := range rec.aliveSpans("STEADY") {
		if end := s.Add(every); end.After(lastContact) {
			t.Errorf("span %v listed alive; it ended %v after the last contact", s, end.Sub(lastContact))
		}
	}
}
