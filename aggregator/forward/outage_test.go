package forward_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// liveWriter stores a sample of every point every 250 ms at the current
// time, the way agents do, and remembers each mapped point's newest value
// per one-second period.
type liveWriter struct {
	mu   sync.Mutex
	want map[valueID]float64
	stop func()
}

func startLiveWriter(t *testing.T, st *store.Store) *liveWriter {
	w := &liveWriter{want: map[valueID]float64{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		n := 0.0
		for ctx.Err() == nil {
			now := time.Now()
			b := &store.Batch{SiteID: site, BufferID: "live", Seq: seq.Add(1)}
			w.mu.Lock()
			for _, p := range append(append([]string{}, mapped...), unmapped) {
				n++
				b.Samples = append(b.Samples, &lifelinev1.Sample{PointId: p, SourceTimeNs: now.UnixNano(),
					ServerTimeNs: now.UnixNano(), ReceiveTimeNs: now.UnixNano(), Value: &lifelinev1.Sample_Number{Number: n}})
				if p != unmapped {
					w.want[valueID{pointCode(p), now.Truncate(time.Second).UnixNano()}] = n
				}
			}
			w.mu.Unlock()
			if err := st.Insert(ctx, []*store.Batch{b}); err != nil && ctx.Err() == nil {
				t.Errorf("insert: %v", err)
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	})
	w.stop = sync.OnceFunc(func() {
		cancel()
		wg.Wait()
	})
	t.Cleanup(w.stop)
	return w
}

func (w *liveWriter) wanted() map[valueID]float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[valueID]float64, len(w.want))
	for k, v := range w.want {
		out[k] = v
	}
	return out
}

// The platform answers 503, then drops connections, then recovers: every
// value arrives once after it, the newest period before the backlog,
// and the backlog in order.
func TestHTTPSOutageCurrentFirst(t *testing.T) {
	st := storetest.Open(t)
	seedRegistry(t, st)
	rcv := newReceiver(t, nil)
	rcv.mode.Store(unavailable)
	tg := rcv.target(t, t.TempDir())
	tg.BacklogRate = 2
	writer := startLiveWriter(t, st)
	stop := runForwarder(t, st, tg)

	time.Sleep(4 * time.Second)
	rcv.mode.Store(closing)
	time.Sleep(3 * time.Second)
	recovered := time.Now()
	rcv.mode.Store(up)
	time.Sleep(3 * time.Second)
	writer.stop()
	want := writer.wanted()
	waitFor(t, 60*time.Second, "every value after the outage", func() bool {
		v, _ := rcv.snapshot()
		return len(missing(want, distinct(v))) == 0
	})
	stop()

	vals, _ := rcv.snapshot()
	for id, rs := range distinct(vals) {
		if len(rs) != 1 {
			t.Errorf("%v arrived %d times", id, len(rs))
		}
		if w, ok := want[id]; ok && rs[0].value != w {
			t.Errorf("%v: value %v, want %v", id, rs[0].value, w)
		}
	}
	first := vals[0]
	newestDue := recovered.Add(-tg.Delay).Truncate(time.Second).Add(-time.Second)
	if time.Unix(0, first.period).Before(newestDue.Add(-time.Second)) {
		t.Errorf("first period sent after the outage is %s, want the newest (%s)", time.Unix(0, first.period).UTC(), newestDue.UTC())
	}
	last := int64(0)
	backlog := 0
	for _, v := range vals {
		if v.period >= first.period {
			continue
		}
		backlog++
		if v.period < last {
			t.Errorf("backlog out of order: %s after %s", time.Unix(0, v.period).UTC(), time.Unix(0, last).UTC())
		}
		last = v.period
	}
	if backlog < 4*len(mapped) {
		t.Errorf("only %d backlog values after the current period; the outage lasted 7 s", backlog)
	}
	t.Logf("%d values, %d of them backlog sent after the current period", len(vals), backlog)
}
