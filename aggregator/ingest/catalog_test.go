package ingest

import (
	"log/slog"
	"testing"
	"time"
	"unsafe"

	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// A decoded sample's point ID is a string of its own; once accepted it
// must be the hello's copy, so the decoded one is not held until insert.
func TestAcceptedSamplesShareTheHellosPointIDs(t *testing.T) {
	hello := &lifelinev1.Hello{SiteId: "S1", Points: []*lifelinev1.Point{{Id: "T101.LT"}, {Id: "T102.LT"}}}
	s := NewService(nil, nil, nil, DefaultOptions(), NewMetrics(nil), slog.New(slog.DiscardHandler))
	in := s.newIntake(hello, nil)
	now := time.Now()
	sent := &lifelinev1.Batch{Seq: 1}
	for _, id := range []string{"T101.LT", "T102.LT", "T101.LT", "NOPE"} {
		sent.Samples = append(sent.Samples, &lifelinev1.Sample{PointId: id, SourceTimeNs: now.UnixNano(),
			Value: &lifelinev1.Sample_Number{Number: 1}})
	}
	wire, err := proto.Marshal(sent)
	if err != nil {
		t.Fatal(err)
	}
	var got lifelinev1.Batch
	if err := proto.Unmarshal(wire, &got); err != nil {
		t.Fatal(err)
	}
	valid, rejected := s.filter(got.GetSamples(), in.known, now)
	if len(valid) != 3 || len(rejected) != 1 {
		t.Fatalf("%d valid, %d rejected; want 3 and 1", len(valid), len(rejected))
	}
	hellos := map[string]*byte{}
	for _, p := range hello.GetPoints() {
		hellos[p.GetId()] = unsafe.StringData(p.GetId())
	}
	for i, smp := range valid {
		if unsafe.StringData(smp.GetPointId()) != hellos[smp.GetPointId()] {
			t.Errorf("sample %d (%s) keeps its decoded point ID", i, smp.GetPointId())
		}
	}
}
