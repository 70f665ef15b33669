package uplink

import (
	"context"
	"testing"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Recatalog ends the open stream and the uplink opens the next one at
// once with the new hello; batches before and after go out, none twice.
func TestRecatalogReopensWithNewHello(t *testing.T) {
	f := &fakeAggregator{seen: map[uint64]int{}, backfill: map[uint64]bool{}}
	q := openQueue(t)
	u, stop := runUplink(t, q, serve(t, f))
	defer stop()
	fill(t, q, 10)
	waitEmpty(t, q)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := u.Recatalog(ctx, &lifelinev1.Hello{SiteId: "S1", Park: "园区", Points: []*lifelinev1.Point{{Id: "B"}}}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Recatalog took %s with nothing in flight", d)
	}
	fill(t, q, 10)
	waitEmpty(t, q)

	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.hellos) != 2 || len(f.hellos[1].GetPoints()) != 1 || f.hellos[1].GetPoints()[0].GetId() != "B" {
		t.Fatalf("hellos %v: want a second one with the new catalog", f.hellos)
	}
	for seq := uint64(1); seq <= 20; seq++ {
		if f.seen[seq] != 1 {
			t.Errorf("batch %d seen %d times", seq, f.seen[seq])
		}
	}
	if st := u.Stats(); st.AckedBatches != 20 {
		t.Errorf("%d batches acked, want 20", st.AckedBatches)
	}
}
