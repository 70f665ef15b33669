package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

// BenchmarkInsert measures Store.Insert with 100,000-row inserts of 100
// batches of 1,000 samples, the Writer's default flush size.
func BenchmarkInsert(b *testing.B) {
	s := storetest.Open(b)
	ctx := context.Background()
	const perInsert, size = 100, 1000
	// Distinct seqs per iteration; rows repeat, which is what the table
	// collapses anyway and does not change the insert's cost.
	batches := storetest.Batches("bench", 1, perInsert, size)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		for j, bt := range batches {
			bt.Seq = uint64(i*perInsert + j + 1)
		}
		if err := s.Insert(ctx, batches); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(b.N*perInsert*size)/elapsed.Seconds(), "rows/s")
}
