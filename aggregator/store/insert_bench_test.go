package store

import (
	"fmt"
	"testing"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// benchBatches returns n batches of size samples over 1,000 points.
func benchBatches(n, size int) []*Batch {
	base := time.Now().Add(-time.Hour).UnixNano()
	out := make([]*Batch, n)
	k := 0
	for i := range out {
		b := &Batch{SiteID: "BENCH", Seq: uint64(i + 1), Samples: make([]*lifelinev1.Sample, size)}
		for j := range b.Samples {
			ts := base + int64(k/1000)*int64(100*time.Millisecond)
			b.Samples[j] = &lifelinev1.Sample{PointId: fmt.Sprintf("LOAD.P%05d", k%1000+1), SourceTimeNs: ts,
				ServerTimeNs: ts, ReceiveTimeNs: ts + 2e6, Value: &lifelinev1.Sample_Number{Number: float64(k % 1000)}}
			k++
		}
		out[i] = b
	}
	return out
}

// BenchmarkColumnsAdd converts 50 batches of 2,000 samples (one 100,000-row
// insert, the writer's default) into the insert's column slices.
func BenchmarkColumnsAdd(b *testing.B) {
	const n, size = 50, 2000
	batches := benchBatches(n, size)
	c, boxes := new(columns), new(boxCache)
	b.ReportAllocs()
	for b.Loop() {
		c.reset()
		c.grow(n*size, true)
		for _, bt := range batches {
			c.add(bt, false, boxes)
		}
	}
	b.ReportMetric(float64(b.N*n*size)/b.Elapsed().Seconds(), "rows/s")
}
