package alarm_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/alarm"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// A steady point that sends no change but is reported alive held its
// value: the stale clock runs from the end of its last alive minute, and
// a stale alarm raised before late liveness arrived clears ("alive").
func TestLivenessMovesTheStaleClock(t *testing.T) {
	st := storetest.Open(t)
	savePoint(t, st, &lifelinev1.Limits{High: f(80)})
	var now atomic.Int64
	now.Store(base.Add(2 * time.Second).UnixNano())
	opts := testOptions()
	opts.Now = func() time.Time { return time.Unix(0, now.Load()) }
	opts.Grace = 0
	opts.StaleAfter = 90 * time.Second
	opts.Tick = 5 * time.Millisecond
	ev, _ := startEvaluator(t, st, opts)
	ctx := context.Background()
	send := func(seq uint64, b *store.Batch) {
		t.Helper()
		b.Seq = seq
		if err := st.Insert(ctx, []*store.Batch{b}); err != nil {
			t.Fatal(err)
		}
		ev.Committed([]*store.Batch{b})
		if err := ev.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	alive := func(minute float64) *store.Batch {
		return &store.Batch{SiteID: site, Liveness: []*lifelinev1.Liveness{{MinuteNs: at(minute), PointIds: []string{"P1"}}}}
	}
	send(1, batch(0, step{samples: []smp{{1, 50, false}}}))
	send(2, alive(60)) // alive and unchanged 60..120 s
	now.Store(base.Add(150 * time.Second).UnixNano())
	time.Sleep(50 * time.Millisecond) // ticks
	waitFor(t, ev, st, nil)           // not stale at 1 + 90 s
	now.Store(base.Add(215 * time.Second).UnixNano())
	waitFor(t, ev, st, []row{{alarm.Stale, 210, -1, "", false}})
	// Liveness of the minute 180..240 s arrives late: the point was alive.
	send(3, alive(180))
	waitFor(t, ev, st, []row{{alarm.Stale, 210, 210, "alive", false}})
}
