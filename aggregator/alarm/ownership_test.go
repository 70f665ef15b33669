package alarm_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/alarm"
	"github.com/lifeline-telemetry/lifeline/aggregator/owner"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// A site taken over by another aggregator: the new owner restores the
// active alarm from the checkpoint and clears it once; the former owner,
// resuming as if it had been paused, still evaluates a batch but writes
// neither the event nor a checkpoint row.
func TestTakeoverFencesTheFormerOwner(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	savePoint(t, st, &lifelinev1.Limits{High: f(80), Deadband: 1})
	quiet := slog.New(slog.DiscardHandler)
	ownA, ownB := owner.New(st, "agg-a", quiet), owner.New(st, "agg-b", quiet)
	if _, err := ownA.Claim(ctx, site); err != nil {
		t.Fatal(err)
	}
	optsA := testOptions()
	optsA.Owners = ownA
	evA, _ := startEvaluator(t, st, optsA)
	var seq uint64
	feed(t, st, evA, &seq, []step{{samples: []smp{{0, 50, false}, {1, 85, false}}}})
	if got, want := alarms(t, st), []row{{alarm.H, 1, -1, "", false}}; !slices.Equal(got, want) {
		t.Fatalf("raised by the first owner: %v, want %v", got, want)
	}

	if _, err := ownB.Claim(ctx, site); err != nil {
		t.Fatal(err)
	}
	takeover := time.Now().UnixNano()
	optsB := testOptions()
	optsB.Owners = ownB
	evB, _ := startEvaluator(t, st, optsB)

	// The former owner, unaware, evaluates the next batch: it would clear.
	seq++
	clearing := batch(seq, step{samples: []smp{{2, 60, false}}})
	if err := st.Insert(ctx, []*store.Batch{clearing}); err != nil {
		t.Fatal(err)
	}
	evA.Committed([]*store.Batch{clearing})
	if err := evA.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := alarms(t, st), []row{{alarm.H, 1, -1, "", false}}; !slices.Equal(got, want) {
		t.Fatalf("the former owner wrote after the takeover: %v, want %v", got, want)
	}
	if evA.Fenced() == 0 {
		t.Error("the former owner did not count the fenced site")
	}
	conn := chtest.Conn(t, st.Config().Addr, st.Config().Database)
	var stale uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM alarm_state WHERE epoch < 2 AND updated_ns > ?", uint64(takeover)).Scan(&stale); err != nil || stale != 0 {
		t.Fatalf("checkpoint rows of the old epoch after the takeover: %d (%v)", stale, err)
	}

	// The new owner gets the same batch and clears the alarm it restored.
	evB.Committed([]*store.Batch{clearing})
	if err := evB.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := alarms(t, st), []row{{alarm.H, 1, 2, "value", false}}; !slices.Equal(got, want) {
		t.Fatalf("after the takeover: %v, want %v", got, want)
	}
	if r, c := evB.Counts(); r != 0 || c != 1 {
		t.Errorf("new owner raised %d, cleared %d; want 0 and 1 (the raise came from the checkpoint)", r, c)
	}
	var epoch uint64
	if err := conn.QueryRow(ctx, "SELECT epoch FROM alarm_events FINAL WHERE site_id = ?", site).Scan(&epoch); err != nil || epoch != 2 {
		t.Fatalf("cleared row written under epoch %d (%v), want 2", epoch, err)
	}
}
