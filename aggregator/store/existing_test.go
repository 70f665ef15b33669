package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// An OPC UA server re-sending the current value of 5,000 points with
// 60-byte ids after a resubscribe: the lookup of what is already stored
// must not pass ClickHouse's max_query_size, or the batch can never be
// stored and the agent resends it forever.
func TestExistingLargeInitialBatch(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	const n = 5000
	keys := make([]store.SampleKey, n)
	stored := &store.Batch{SiteID: "s1", Seq: 1}
	for i := range keys {
		id := fmt.Sprintf("AREA-%04d.", i)
		id += strings.Repeat("X", 60-len(id))
		keys[i] = store.SampleKey{PointID: id, TsNs: 1_750_000_000_000_000_000 + int64(i)}
		if i%2 == 0 {
			stored.Samples = append(stored.Samples, &lifelinev1.Sample{PointId: id, SourceTimeNs: keys[i].TsNs,
				Value: &lifelinev1.Sample_Number{Number: float64(i)}})
		}
	}
	if err := s.Insert(ctx, []*store.Batch{stored}); err != nil {
		t.Fatal(err)
	}
	found, err := s.Existing(ctx, "s1", keys)
	if err != nil {
		t.Fatalf("lookup of %d keys: %v", n, err)
	}
	if len(found) != n/2 {
		t.Fatalf("found %d stored keys, want %d", len(found), n/2)
	}
	for i, k := range keys {
		if _, ok := found[k]; ok != (i%2 == 0) {
			t.Fatalf("key %d (%s): found %v", i, k.PointID, ok)
		}
	}
}
