package bench

import (
	"testing"

	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// A restamped batch decodes to the same samples with the new times: each
// point's rising within the batch, its receive time the send time.
func TestRestamp(t *testing.T) {
	const points = 3
	var samples []*lifelinev1.Sample
	for i := range 2 * points {
		samples = append(samples, &lifelinev1.Sample{PointId: pointID(i % points), SourceTimeNs: 1_700_000_000e9,
			ServerTimeNs: 1_700_000_000e9, ReceiveTimeNs: 1_700_000_000e9, Value: &lifelinev1.Sample_Number{Number: float64(i)}})
	}
	b, err := encodeSamples(samples)
	if err != nil {
		t.Fatal(err)
	}
	stamps, err := stampOffsets(b)
	if err != nil {
		t.Fatal(err)
	}
	const now = int64(1_800_000_000_123_456_789)
	restamp(b, stamps, points, now)
	var got lifelinev1.Batch
	if err := proto.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for i, s := range got.GetSamples() {
		want := now + int64(i/points)
		if s.GetSourceTimeNs() != want || s.GetServerTimeNs() != want || s.GetReceiveTimeNs() != now ||
			s.GetNumber() != float64(i) || s.GetPointId() != pointID(i%points) {
			t.Errorf("sample %d = %v, want source and server time %d, receive time %d", i, s, want, now)
		}
	}
}
