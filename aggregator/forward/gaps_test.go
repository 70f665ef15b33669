package forward_test

import (
	"cmp"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/forward"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

// Periods older than max_backlog_age and messages the platform refuses
// for good (4xx) are recorded in forward_gaps and not sent again; the
// cursor moves on.
func TestRefusedAndTooOldBecomeGaps(t *testing.T) {
	st := storetest.Open(t)
	seedRegistry(t, st)
	rcv := newReceiver(t, nil)
	rcv.mode.Store(refusing)
	start := time.Now().Truncate(time.Second).Add(-30 * time.Second)
	insertValues(t, st, start, 25, time.Second)

	tg := rcv.target(t, t.TempDir())
	tg.InitialBacklog = 40 * time.Second
	tg.MaxBacklogAge = 15 * time.Second
	stop := runForwarder(t, st, tg)

	waitFor(t, 30*time.Second, "the backlog to be handled", func() bool {
		cur, err := st.ForwardCursors(context.Background(), "province")
		if err != nil {
			t.Fatal(err)
		}
		c, ok := cur[forward.KindRealtime]
		return ok && c.Pending == "" && c.LiveNs > start.Add(25*time.Second).UnixNano()
	})
	stop()
	gaps, err := st.ForwardGaps(context.Background(), "province")
	if err != nil {
		t.Fatal(err)
	}
	// The first too-old gap covers the window's start; on a slow machine
	// later periods may age past the limit too, each its own gap.
	var old []store.ForwardGap
	refused := map[int64]int{}
	for _, g := range gaps {
		switch {
		case g.Reason == forward.GapTooOld:
			old = append(old, g)
		case g.Reason == forward.GapRefused && g.Kind == forward.KindRealtime:
			refused[g.FromNs]++
			if g.PointID == unmapped || g.Detail == "" {
				t.Errorf("refusal gap %+v", g)
			}
		}
	}
	cutoff, covered := tooOldCover(old, start.UnixNano())
	if !covered || cutoff < start.Add(5*time.Second).UnixNano() {
		t.Fatalf("no gaps older than max_backlog_age covering the window's start: %+v", old)
	}
	n := 0
	for p := cutoff; p < start.Add(25*time.Second).UnixNano(); p += int64(time.Second) {
		n++
		if refused[p] != len(mapped) {
			t.Errorf("period %s: %d refused values recorded, want %d", time.Unix(0, p).UTC(), refused[p], len(mapped))
		}
	}
	if n < 1 {
		t.Errorf("no period between the too-old cutoff and the window's end")
	}
	if v, _ := rcv.snapshot(); len(v) != 0 {
		t.Errorf("%d values accepted by a refusing platform", len(v))
	}
}

// tooOldCover merges the spans of gaps and reports whether they cover from
// on without a hole, and up to where.
func tooOldCover(gaps []store.ForwardGap, from int64) (until int64, covered bool) {
	slices.SortFunc(gaps, func(a, b store.ForwardGap) int { return cmp.Compare(a.FromNs, b.FromNs) })
	for _, g := range gaps {
		switch {
		case !covered && g.FromNs <= from:
			until, covered = max(g.ToNs, from), true
		case covered && g.FromNs <= until:
			until = max(until, g.ToNs)
		}
	}
	return until, covered
}
