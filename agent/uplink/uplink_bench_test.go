package uplink

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// BenchmarkDecodeEntry decodes one buffer entry of 2,000 samples into the
// Batch the uplink sends: its cost per batch before gRPC.
func BenchmarkDecodeEntry(b *testing.B) {
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
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var out lifelinev1.Batch
		if err := proto.Unmarshal(data, &out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "samples/s")
}
