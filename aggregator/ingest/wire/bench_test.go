package wire

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// benchBatch is a batch of n samples shaped like an agent's: 500 points
// with tank-farm IDs, source, server and receive times, mostly numbers,
// one sample in 50 a switch and one in 200 a text.
func benchBatch(n int) *lifelinev1.AgentMessage {
	b := &lifelinev1.Batch{Seq: 123456}
	ts := int64(1_750_000_000_000_000_000)
	for i := range n {
		s := &lifelinev1.Sample{
			PointId:       fmt.Sprintf("TK%03d.LT%d", i%500, i%7),
			SourceTimeNs:  ts + int64(i)*1_000_037,
			ServerTimeNs:  ts + int64(i)*1_000_037 + 2_000_000,
			ReceiveTimeNs: ts + int64(i)*1_000_037 + 9_000_000,
			Value:         &lifelinev1.Sample_Number{Number: float64(i%1000) * 0.37},
		}
		switch {
		case i%200 == 0:
			s.Value = &lifelinev1.Sample_Text{Text: "正常运行"}
		case i%50 == 0:
			s.Value = &lifelinev1.Sample_Flag{Flag: i%100 == 0}
		}
		b.Samples = append(b.Samples, s)
	}
	return batchMessage(b)
}

// BenchmarkDecode decodes a batch of 2,000 samples with Unmarshal and with
// proto.Unmarshal.
func BenchmarkDecode(b *testing.B) {
	data := marshal(b, benchBatch(2000))
	for _, dec := range []struct {
		name      string
		unmarshal func([]byte, *lifelinev1.AgentMessage) error
	}{
		{"wire", Unmarshal},
		{"proto", func(b []byte, m *lifelinev1.AgentMessage) error { return proto.Unmarshal(b, m) }},
	} {
		b.Run(dec.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				var m lifelinev1.AgentMessage
				if err := dec.unmarshal(data, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
