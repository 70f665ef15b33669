package writer_test

import (
	"context"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// benchBatches returns n batches of size samples over 1,000 points.
func benchBatches(n, size int) []*store.Batch {
	base := time.Now().Add(-time.Hour).UnixNano()
	out := make([]*store.Batch, n)
	for i := range out {
		b := &store.Batch{SiteID: "BENCH", Seq: uint64(i + 1), Samples: make([]*lifelinev1.Sample, size)}
		for j := range b.Samples {
			b.Samples[j] = &lifelinev1.Sample{PointId: "P", SourceTimeNs: base + int64(i*size+j)}
		}
		out[i] = b
	}
	return out
}

// nopInserter commits at once.
type nopInserter struct{}

func (nopInserter) Insert(context.Context, []*store.Batch) error { return nil }

// BenchmarkWriterSubmit passes batches of 2,000 samples through the
// Writer's queue, grouping and callbacks, with an insert that costs nothing.
func BenchmarkWriterSubmit(b *testing.B) {
	const size = 2000
	batches := benchBatches(64, size)
	w := writer.New(nopInserter{}, writer.Options{MaxRows: 100_000, MaxDelay: time.Millisecond}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		_ = w.Run(ctx)
		close(done)
	}()
	committed := make(chan struct{}, len(batches))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := w.Submit(ctx, batches[i%len(batches)], func(error) { committed <- struct{}{} }); err != nil {
			b.Fatal(err)
		}
		if i >= len(batches)-1 {
			<-committed
		}
	}
	if err := w.Drain(ctx); err != nil {
		b.Fatal(err)
	}
	cancel()
	<-done
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
}
