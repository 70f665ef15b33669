package wire

import (
	"bytes"
	"fmt"
	"math"
	"testing"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// sameAsProto fails t unless Unmarshal decodes b as proto.Unmarshal does:
// both refuse it, or both make equal messages that encode to the same
// bytes (which also tells -0 from 0 and one NaN from another). The input
// is overwritten before the comparison, as gRPC reuses its buffer.
func sameAsProto(t *testing.T, b []byte) *lifelinev1.AgentMessage {
	t.Helper()
	var want lifelinev1.AgentMessage
	wantErr := proto.Unmarshal(b, &want)
	in := bytes.Clone(b)
	got := &lifelinev1.AgentMessage{Body: &lifelinev1.AgentMessage_Status{Status: &lifelinev1.Status{TimeNs: 1}}}
	err := Unmarshal(in, got)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("Unmarshal(%x): %v; proto.Unmarshal: %v", b, err, wantErr)
	}
	if err != nil {
		return nil
	}
	for i := range in {
		in[i] = 0xff
	}
	if !proto.Equal(got, &want) {
		t.Fatalf("Unmarshal(%x):\n got %v\nwant %v", b, got, &want)
	}
	deterministic := proto.MarshalOptions{Deterministic: true}
	g, err1 := deterministic.Marshal(got)
	w, err2 := deterministic.Marshal(&want)
	if err1 != nil || err2 != nil || !bytes.Equal(g, w) {
		t.Fatalf("Unmarshal(%x) encodes to %x (%v), proto.Unmarshal's to %x (%v)", b, g, err1, w, err2)
	}
	return got
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func batchMessage(b *lifelinev1.Batch) *lifelinev1.AgentMessage {
	return &lifelinev1.AgentMessage{Body: &lifelinev1.AgentMessage_Batch{Batch: b}}
}

// realBatch is a batch as an agent sends one: numbers, a switch, Chinese
// text, initial and history values, a bad status.
func realBatch() *lifelinev1.Batch {
	ts := int64(1_750_000_000_123_456_789)
	return &lifelinev1.Batch{Seq: 42, Samples: []*lifelinev1.Sample{
		{PointId: "T101.LT", SourceTimeNs: ts, ServerTimeNs: ts + 1e6, ReceiveTimeNs: ts + 3e6, Value: &lifelinev1.Sample_Number{Number: 12.5}},
		{PointId: "XV-201.ZSO", SourceTimeNs: ts, Value: &lifelinev1.Sample_Flag{Flag: true}, Initial: true},
		{PointId: "罐区.状态", SourceTimeNs: ts + 1, Value: &lifelinev1.Sample_Text{Text: "正常运行"}, History: true},
		{PointId: "P301.PT", SourceTimeNs: -1, Status: 0x80340000, Value: &lifelinev1.Sample_Number{Number: math.Copysign(0, -1)}},
		{PointId: "F1", SourceTimeNs: ts + 2, Value: &lifelinev1.Sample_Flag{}},
		{PointId: "", Value: &lifelinev1.Sample_Number{Number: math.NaN()}},
		{},
	}}
}

// seeds are real encodings of every message an agent sends, and a few that
// only a broken or future agent would.
func seeds(t testing.TB) [][]byte {
	full := realBatch()
	full.Backfill = true
	full.Gaps = []*lifelinev1.Gap{{PointIds: []string{"A", "液位"}, FromNs: -5, ToNs: 9, Samples: 3, Reason: "buffer_full",
		Batches: []*lifelinev1.DroppedBatch{{Seq: 7, Samples: 2000}}, Recovery: "partial", UnrecoveredPointIds: []string{"B"}}}
	full.Liveness = []*lifelinev1.Liveness{{MinuteNs: 60e9, PointIds: []string{"P1", "P2"}}}
	full.ConditionEvents = []*lifelinev1.ConditionEvent{{EventId: []byte{1, 2, 3}, SourceNode: "ns=2;s=T101", Severity: 700,
		Message: "高高报警", TimeNs: 5, Active: true, Source: "plc"}}
	hello := &lifelinev1.AgentMessage{Body: &lifelinev1.AgentMessage_Hello{Hello: &lifelinev1.Hello{SiteId: "S1", Park: "园区",
		Points: []*lifelinev1.Point{{Id: "T101.LT", Name: "液位", Limits: &lifelinev1.Limits{High: proto.Float64(9)}}}, BufferId: "b1", NewestSeq: 9}}}
	status := &lifelinev1.AgentMessage{Body: &lifelinev1.AgentMessage_Status{Status: &lifelinev1.Status{TimeNs: 1, BacklogBatches: 2,
		DrainRate: 3.5, Sources: []*lifelinev1.SourceStatus{{Name: "plc", Connected: true}}, FrozenPoints: []string{"A"}}}}
	real := marshal(t, batchMessage(realBatch()))
	sample := func(fields ...byte) []byte { // one sample, fields as given
		b := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), fields)
		return protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), b)
	}
	return [][]byte{
		real,
		marshal(t, batchMessage(full)),
		marshal(t, batchMessage(&lifelinev1.Batch{})),
		marshal(t, hello),
		marshal(t, status),
		nil,
		append(bytes.Clone(real), real...), // the batch twice: merged
		sample(0x0a, 1, 'A', 0x29, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x30, 1, 0x3a, 1, 'x', 0x0a, 1, 'B'), // repeated fields, last wins
		sample(0x0a, 2, 0xc3, 0x28),                         // point ID not UTF-8
		sample(0x3a, 1, 0xff, 0x29, 0, 0, 0, 0, 0, 0, 0, 0), // text not UTF-8, then a number
		sample(0x8a, 0x00, 1, 'A'),                          // a tag in two bytes
		sample(0x58, 1),                                     // field 11, unknown
		sample(0x08, 1),                                     // point ID as a varint
		sample(0x40, 0xff, 0xff, 0xff, 0xff, 0x1f),          // status over 32 bits
		sample(0x10, 0x80),                                  // truncated varint
		{0x12, 0x02, 0x08, 0x01, 0x12, 0x00},                // seq, then an empty batch: merged
		{0x12, 0x03, 0x18, 0x02, 0x20},                      // a truncated gap
		{0x12, 0x02, 0x3a, 0x00},                            // batch field 7, unknown
		{0x12, 0x02, 0x1a, 0x00},                            // backfill as bytes
	}
}

func TestUnmarshalMatchesProto(t *testing.T) {
	for i, b := range seeds(t) {
		t.Run(fmt.Sprint(i), func(t *testing.T) { sameAsProto(t, b) })
	}
}

// TestUnmarshalUsesSlabs checks the shape that makes the decoder worth
// having: the samples in one array, their point IDs in one string, number
// wrappers in one array.
func TestUnmarshalUsesSlabs(t *testing.T) {
	m := sameAsProto(t, marshal(t, batchMessage(realBatch())))
	samples := m.GetBatch().GetSamples()
	for i := 1; i < len(samples); i++ {
		if uintptr(unsafe.Pointer(samples[i]))-uintptr(unsafe.Pointer(samples[i-1])) != unsafe.Sizeof(lifelinev1.Sample{}) {
			t.Fatalf("samples %d and %d are not neighbours in one array", i-1, i)
		}
	}
	a, b := samples[0].GetPointId(), samples[1].GetPointId()
	if unsafe.Pointer(unsafe.StringData(b)) != unsafe.Add(unsafe.Pointer(unsafe.StringData(a)), len(a)) {
		t.Fatalf("point IDs %q and %q are not parts of one string", a, b)
	}
	n0, n3 := samples[0].Value.(*lifelinev1.Sample_Number), samples[3].Value.(*lifelinev1.Sample_Number)
	if uintptr(unsafe.Pointer(n3))-uintptr(unsafe.Pointer(n0)) != unsafe.Sizeof(*n0) {
		t.Fatal("number values are not neighbours in one array")
	}
}

// TestUnmarshalAllocations bounds the allocations of a batch of 2,000
// samples: a few for the batch, and one or two for each value that is not
// a number. proto.Unmarshal makes three per sample.
func TestUnmarshalAllocations(t *testing.T) {
	msg := benchBatch(2000)
	own := 0
	for _, s := range msg.GetBatch().GetSamples() {
		switch s.Value.(type) {
		case *lifelinev1.Sample_Flag:
			own++
		case *lifelinev1.Sample_Text:
			own += 2
		}
	}
	b := marshal(t, msg)
	var m lifelinev1.AgentMessage
	allocs := testing.AllocsPerRun(20, func() {
		if err := Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > float64(own+8) {
		t.Fatalf("%v allocations per batch of 2,000 samples, %d of them flags' and texts'", allocs, own)
	}
}

// FuzzUnmarshal compares Unmarshal with proto.Unmarshal on any input.
func FuzzUnmarshal(f *testing.F) {
	for _, b := range seeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameAsProto(t, b) })
}
