package uplink

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// storedEntry is one buffer entry of 2,000 samples, as the batcher writes
// them at 100,000 samples/s.
func storedEntry(b *testing.B) []byte {
	const size = 2000
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	batch := &lifelinev1.Batch{}
	for i := range size {
		ts := base + int64(i/1000)*int64(100*time.Millisecond)
		batch.Samples = append(batch.Samples, &lifelinev1.Sample{PointId: fmt.Sprintf("LOAD.P%05d", i%1000+1),
			SourceTimeNs: ts, ServerTimeNs: ts, ReceiveTimeNs: ts + 2e6, Value: &lifelinev1.Sample_Number{Number: float64(i)}})
	}
	data, err := proto.Marshal(batch)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkEncodeEntry is the uplink's work per batch from the buffer entry
// to the bytes gRPC writes (compression apart). as-stored is the send
// path: check and count the entry, frame it. decode-reencode is how it
// was done before, kept as the baseline: decode the entry into a Batch,
// set seq and backfill, encode the AgentMessage with gRPC's proto codec.
func BenchmarkEncodeEntry(b *testing.B) {
	data := storedEntry(b)
	c := newCodec()
	const samples = 2000
	b.Run("as-stored", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			n, err := countSamples(data)
			if err != nil || n != samples {
				b.Fatal(n, err)
			}
			out, err := c.Marshal(newEncodedBatch(data, 42, true))
			if err != nil {
				b.Fatal(err)
			}
			out.Free()
		}
		b.ReportMetric(float64(b.N*samples)/b.Elapsed().Seconds(), "samples/s")
	})
	b.Run("decode-reencode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			batch := &lifelinev1.Batch{}
			if err := proto.Unmarshal(data, batch); err != nil || len(batch.Samples) != samples {
				b.Fatal(err)
			}
			batch.Seq, batch.Backfill = 42, true
			out, err := c.Marshal(&lifelinev1.AgentMessage{Body: &lifelinev1.AgentMessage_Batch{Batch: batch}})
			if err != nil {
				b.Fatal(err)
			}
			out.Free()
		}
		b.ReportMetric(float64(b.N*samples)/b.Elapsed().Seconds(), "samples/s")
	})
}
