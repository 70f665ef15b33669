package ingest

import (
	"context"
	"testing"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// A stream that sends no back-filled batch never starts its lane; one that
// does starts it once, and the lane hands its batches on in order.
func TestBackfillLaneStartsAtItsFirstBatch(t *testing.T) {
	ctx := context.Background()
	var accepted []uint64
	starts := 0
	newLane := func() *backfillLane {
		return newBackfillLane(func(l *backfillLane) {
			starts++
			go l.run(ctx, func(_ context.Context, b *lifelinev1.Batch) error {
				accepted = append(accepted, b.GetSeq())
				return nil
			})
		})
	}
	idle := newLane()
	idle.close()
	if starts != 0 {
		t.Fatalf("a lane without batches started %d times", starts)
	}
	lane := newLane()
	for seq := range uint64(3) {
		if err := lane.put(ctx, &lifelinev1.Batch{Seq: seq + 1, Backfill: true}); err != nil {
			t.Fatal(err)
		}
	}
	lane.close() // waits for run: accepted is complete
	if starts != 1 || len(accepted) != 3 || accepted[0] != 1 || accepted[2] != 3 {
		t.Errorf("started %d times, accepted %v; want once, [1 2 3]", starts, accepted)
	}
}
