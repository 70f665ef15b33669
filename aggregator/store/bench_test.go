package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// syntheticBatches makes n batches of size samples over 200 points per
// site, mixing numbers, flags and text the way a plant does.
func syntheticBatches(site string, firstSeq uint64, n, size int) []*store.Batch {
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	points := make([]string, 200)
	for i := range points {
		points[i] = fmt.Sprintf("T%03d.LT", i)
	}
	out := make([]*store.Batch, n)
	k := 0
	for i := range out {
		b := &store.Batch{SiteID: site, Seq: firstSeq + uint64(i), Samples: make([]*lifelinev1.Sample, size)}
		for j := range b.Samples {
			ts := base + int64(k/len(points))*int64(time.Second) + int64(k%7)
			s := &lifelinev1.Sample{PointId: points[k%len(points)], SourceTimeNs: ts, ServerTimeNs: ts + 1e6, ReceiveTimeNs: ts + 3e6}
			switch k % 20 {
			case 0:
				s.Value = &lifelinev1.Sample_Flag{Flag: k%40 == 0}
			case 1:
				s.Value = &lifelinev1.Sample_Text{Text: "运行"}
			default:
				s.Value = &lifelinev1.Sample_Number{Number: float64(k%1000) / 10}
			}
			b.Samples[j] = s
			k++
		}
		out[i] = b
	}
	return out
}

// BenchmarkInsert measures Store.Insert with 100,000-row inserts of 100
// batches of 1,000 samples, the Writer's default flush size.
func BenchmarkInsert(b *testing.B) {
	s := openStore(b)
	ctx := context.Background()
	const perInsert, size = 100, 1000
	// Distinct seqs per iteration; rows repeat, which is what the table
	// collapses anyway and does not change the insert's cost.
	batches := syntheticBatches("bench", 1, perInsert, size)
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
