package batcher

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// sameAsMarshal fails t unless appendBatch encodes batch as proto.Marshal
// does, or refuses it as proto.Marshal does. prefix checks that it appends.
func sameAsMarshal(t *testing.T, batch *lifelinev1.Batch) {
	t.Helper()
	want, wantErr := proto.Marshal(batch)
	prefix := []byte("prefix")
	got, err := appendBatch(bytes.Clone(prefix), batch)
	if wantErr != nil {
		if err == nil {
			t.Fatalf("proto.Marshal refused %v (%v); appendBatch encoded it", batch, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("appendBatch(%v): %v", batch, err)
	}
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("appendBatch overwrote what the buffer held")
	}
	if got = got[len(prefix):]; !bytes.Equal(got, want) {
		t.Fatalf("appendBatch(%v):\n got %x\nwant %x", batch, got, want)
	}
}

// randomSample draws every field from values that reach each branch of the
// encoder: zero and non-zero, negative times, each kind of value or none,
// one- and multi-byte varints, long and non-ASCII text.
func randomSample(r *rand.Rand) *lifelinev1.Sample {
	times := []int64{0, 1, -1, 127, 128, 1_750_000_000_123_456_789, math.MinInt64, math.MaxInt64}
	texts := []string{"", "a", "液位高高", string(bytes.Repeat([]byte("x"), 200)), "T101.LT"}
	pick := func() int64 {
		if r.IntN(2) == 0 {
			return times[r.IntN(len(times))]
		}
		return r.Int64() - r.Int64()
	}
	s := &lifelinev1.Sample{
		PointId:       texts[r.IntN(len(texts))],
		SourceTimeNs:  pick(),
		ServerTimeNs:  pick(),
		ReceiveTimeNs: pick(),
		Initial:       r.IntN(3) == 0,
		History:       r.IntN(3) == 0,
	}
	switch r.IntN(4) {
	case 0:
		s.Status = []uint32{0, 1, 0x80000000, 0x00940000, math.MaxUint32}[r.IntN(5)]
	case 1:
		s.Status = r.Uint32()
	}
	switch r.IntN(5) {
	case 0:
		s.Value = &lifelinev1.Sample_Number{Number: []float64{0, math.Copysign(0, -1), 12.3, math.NaN(), math.Inf(-1), r.NormFloat64()}[r.IntN(6)]}
	case 1:
		s.Value = &lifelinev1.Sample_Flag{Flag: r.IntN(2) == 0}
	case 2:
		s.Value = &lifelinev1.Sample_Text{Text: texts[r.IntN(len(texts))]}
	case 3:
		s.Value = &lifelinev1.Sample_Number{Number: r.Float64() * 1e6}
	}
	return s
}

func randomBatch(r *rand.Rand) *lifelinev1.Batch {
	b := &lifelinev1.Batch{Backfill: r.IntN(4) == 0}
	if r.IntN(4) == 0 {
		b.Seq = r.Uint64() >> r.IntN(64)
	}
	for range r.IntN(50) {
		b.Samples = append(b.Samples, randomSample(r))
	}
	if r.IntN(3) == 0 {
		b.Gaps = append(b.Gaps, &lifelinev1.Gap{PointIds: []string{"A", "液位"}, FromNs: -5, ToNs: r.Int64(), Samples: r.Uint64(),
			Reason: "buffer_full", Batches: []*lifelinev1.DroppedBatch{{Seq: 7, Samples: 2000}}})
	}
	if r.IntN(3) == 0 {
		b.Liveness = append(b.Liveness, &lifelinev1.Liveness{MinuteNs: r.Int64(), PointIds: []string{"P1", "P2"}})
	}
	if r.IntN(3) == 0 {
		b.ConditionEvents = append(b.ConditionEvents, &lifelinev1.ConditionEvent{EventId: []byte{1, 2, 3}, SourceNode: "ns=2;s=T101",
			Severity: 700, Message: "高高报警", TimeNs: r.Int64()})
	}
	return b
}

// TestAppendBatchMatchesMarshal holds the hand-written encoder to
// proto.Marshal's bytes over many random batches: the aggregator decodes
// what the agent buffered, and a stored batch must not change with the
// encoder.
func TestAppendBatchMatchesMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		sameAsMarshal(t, randomBatch(r))
	}
}

func TestAppendBatchEdgeCases(t *testing.T) {
	big := &lifelinev1.Sample{PointId: string(bytes.Repeat([]byte("p"), 300)), Value: &lifelinev1.Sample_Text{Text: string(bytes.Repeat([]byte("液"), 100))}}
	withUnknown := &lifelinev1.Sample{PointId: "U", Status: 1}
	withUnknown.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 5))
	batchUnknown := &lifelinev1.Batch{Samples: []*lifelinev1.Sample{{PointId: "B"}}}
	batchUnknown.ProtoReflect().SetUnknown(protowire.AppendString(protowire.AppendTag(nil, 50, protowire.BytesType), "x"))
	cases := map[string]*lifelinev1.Batch{
		"empty":                {},
		"empty sample":         {Samples: []*lifelinev1.Sample{{}}},
		"nil sample":           {Samples: []*lifelinev1.Sample{nil, {PointId: "A"}}},
		"zero-valued oneofs":   {Samples: []*lifelinev1.Sample{{Value: &lifelinev1.Sample_Number{}}, {Value: &lifelinev1.Sample_Flag{}}, {Value: &lifelinev1.Sample_Text{}}}},
		"sample over 127 B":    {Samples: []*lifelinev1.Sample{big}},
		"unknown fields":       {Samples: []*lifelinev1.Sample{withUnknown}},
		"batch unknown fields": batchUnknown,
		"empty gap":            {Gaps: []*lifelinev1.Gap{{}}},
		"invalid point id":     {Samples: []*lifelinev1.Sample{{PointId: "a\xffb"}}},
		"invalid text":         {Samples: []*lifelinev1.Sample{{PointId: "a", Value: &lifelinev1.Sample_Text{Text: "\xc3("}}}},
		"invalid gap reason":   {Gaps: []*lifelinev1.Gap{{Reason: "\xff"}}},
	}
	for name, batch := range cases {
		t.Run(name, func(t *testing.T) { sameAsMarshal(t, batch) })
	}
}

func TestAppendBatchRefusesInvalidUTF8(t *testing.T) {
	_, err := appendBatch(nil, &lifelinev1.Batch{Samples: []*lifelinev1.Sample{{PointId: "a", Value: &lifelinev1.Sample_Text{Text: "\xff"}}}})
	if !errors.Is(err, errInvalidUTF8) {
		t.Fatalf("appendBatch of invalid text: %v, want errInvalidUTF8", err)
	}
}

// FuzzAppendBatch compares the encoder with proto.Marshal on samples the
// fuzzer builds field by field.
func FuzzAppendBatch(f *testing.F) {
	f.Add("T101.LT", int64(1_750_000_000_000_000_000), int64(0), int64(-1), uint8(0), 12.5, "", uint32(0), false, true, uint64(0), uint8(3))
	f.Add("", int64(0), int64(0), int64(0), uint8(2), 0.0, "\xff", uint32(0x80000000), true, false, uint64(1<<63), uint8(0))
	f.Fuzz(func(t *testing.T, id string, src, srv, recv int64, kind uint8, num float64, txt string, status uint32, initial, history bool, seq uint64, n uint8) {
		s := &lifelinev1.Sample{PointId: id, SourceTimeNs: src, ServerTimeNs: srv, ReceiveTimeNs: recv, Status: status, Initial: initial, History: history}
		switch kind % 4 {
		case 0:
			s.Value = &lifelinev1.Sample_Number{Number: num}
		case 1:
			s.Value = &lifelinev1.Sample_Flag{Flag: num != 0}
		case 2:
			s.Value = &lifelinev1.Sample_Text{Text: txt}
		}
		batch := &lifelinev1.Batch{Seq: seq, Backfill: kind >= 128}
		for range int(n%8) + 1 {
			batch.Samples = append(batch.Samples, s)
		}
		sameAsMarshal(t, batch)
	})
}
