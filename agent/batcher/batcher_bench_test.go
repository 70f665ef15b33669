package batcher

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// nopAppender accepts every entry and keeps none.
type nopAppender struct{ bytes int }

func (a *nopAppender) Append(data []byte) (uint64, error) {
	a.bytes = len(data)
	return 1, nil
}

// benchSamples returns n samples of points round-robin, as the OPC UA
// reader delivers them.
func benchSamples(n, points int) []*lifelinev1.Sample {
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	out := make([]*lifelinev1.Sample, n)
	for i := range out {
		ts := base + int64(i/points)*int64(100*time.Millisecond)
		out[i] = &lifelinev1.Sample{PointId: fmt.Sprintf("LOAD.P%05d", i%points+1), SourceTimeNs: ts, ServerTimeNs: ts,
			ReceiveTimeNs: ts + 2e6, Value: &lifelinev1.Sample_Number{Number: float64(i%1000) / 10}}
	}
	return out
}

// BenchmarkStore encodes one batch of 2,000 samples (the default
// batch_samples) and hands it to the buffer: the batcher's cost per batch
// without the disk.
func BenchmarkStore(b *testing.B) {
	const size = 2000
	out := &nopAppender{}
	bt := New(out, Options{MaxSamples: size, MaxWait: time.Second}, slog.New(slog.DiscardHandler))
	samples := benchSamples(size, 1000)
	b.ReportAllocs()
	for b.Loop() {
		if err := bt.store(samples, nil, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(out.bytes)/size, "bytes/sample")
}

// BenchmarkWrite hands the batcher 100 samples at a time, as a reader
// does per notification, flushing each full batch.
func BenchmarkWrite(b *testing.B) {
	const size, per = 2000, 100
	bt := New(&nopAppender{}, Options{MaxSamples: size, MaxWait: time.Second}, slog.New(slog.DiscardHandler))
	samples := benchSamples(size*10, 1000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		bt.Write(samples[i : i+per])
		if i += per; i == len(samples) {
			i = 0
		}
		bt.flush(false)
	}
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkEncode compares proto.Marshal with the batcher's encoder on a
// batch of 2,000 samples.
func BenchmarkEncode(b *testing.B) {
	batch := &lifelinev1.Batch{Samples: benchSamples(2000, 1000)}
	b.Run("proto.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := proto.Marshal(batch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendBatch", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = appendBatch(buf[:0], batch); err != nil {
				b.Fatal(err)
			}
		}
	})
}
