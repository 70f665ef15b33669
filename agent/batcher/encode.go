package batcher

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// appendBatch appends the wire encoding of batch to b: the same bytes
// proto.Marshal produces (encode_test.go holds it to that), written field
// by field. Samples are most of what the agent encodes, 100,000 a second,
// and proto.Marshal's table-driven encoder spent ~10 % of the agent's CPU on
// them; gaps, liveness and condition events are rare and go through
// proto.Marshal.
//
// Like proto.Marshal it refuses text that is not valid UTF-8, so the
// caller's repair path sees the same error.
func appendBatch(b []byte, batch *lifelinev1.Batch) ([]byte, error) {
	if batch.Seq != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, batch.Seq)
	}
	for _, s := range batch.Samples {
		if s == nil {
			// proto.Marshal writes an empty message for a nil element.
			b = protowire.AppendTag(b, 2, protowire.BytesType)
			b = append(b, 0)
			continue
		}
		var err error
		if b, err = appendSample(b, s); err != nil {
			return b, err
		}
	}
	if batch.Backfill {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = append(b, 1)
	}
	var err error
	for _, g := range batch.Gaps {
		if b, err = appendMessage(b, 4, g); err != nil {
			return b, err
		}
	}
	for _, l := range batch.Liveness {
		if b, err = appendMessage(b, 5, l); err != nil {
			return b, err
		}
	}
	for _, e := range batch.ConditionEvents {
		if b, err = appendMessage(b, 6, e); err != nil {
			return b, err
		}
	}
	return append(b, batch.ProtoReflect().GetUnknown()...), nil
}

// errInvalidUTF8 is what appendBatch returns for text that is not UTF-8.
var errInvalidUTF8 = errors.New("string field contains invalid UTF-8")

// appendSample appends s as field 2 of a Batch.
func appendSample(b []byte, s *lifelinev1.Sample) ([]byte, error) {
	if !utf8.ValidString(s.PointId) {
		return b, fmt.Errorf("sample point_id: %w", errInvalidUTF8)
	}
	if t, ok := s.Value.(*lifelinev1.Sample_Text); ok && !utf8.ValidString(t.Text) {
		return b, fmt.Errorf("sample %s text: %w", s.PointId, errInvalidUTF8)
	}
	unknown := s.ProtoReflect().GetUnknown()
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(sampleSize(s)+len(unknown)))
	if s.PointId != "" {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, s.PointId)
	}
	b = appendInt64(b, 2, s.SourceTimeNs)
	b = appendInt64(b, 3, s.ServerTimeNs)
	b = appendInt64(b, 4, s.ReceiveTimeNs)
	if s.Status != 0 {
		b = protowire.AppendTag(b, 8, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(s.Status))
	}
	if s.Initial {
		b = protowire.AppendTag(b, 9, protowire.VarintType)
		b = append(b, 1)
	}
	if s.History {
		b = protowire.AppendTag(b, 10, protowire.VarintType)
		b = append(b, 1)
	}
	// proto.Marshal writes a oneof after the other fields, whatever its
	// field numbers.
	switch v := s.Value.(type) {
	case *lifelinev1.Sample_Number:
		b = protowire.AppendTag(b, 5, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(v.Number))
	case *lifelinev1.Sample_Flag:
		b = protowire.AppendTag(b, 6, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(v.Flag))
	case *lifelinev1.Sample_Text:
		b = protowire.AppendTag(b, 7, protowire.BytesType)
		b = protowire.AppendString(b, v.Text)
	}
	return append(b, unknown...), nil
}

// sampleSize is the encoded size of s's known fields. Every tag of Sample
// (fields 1 to 10) takes one byte.
func sampleSize(s *lifelinev1.Sample) int {
	n := 0
	if s.PointId != "" {
		n += 1 + protowire.SizeBytes(len(s.PointId))
	}
	n += int64Size(s.SourceTimeNs) + int64Size(s.ServerTimeNs) + int64Size(s.ReceiveTimeNs)
	switch v := s.Value.(type) {
	case *lifelinev1.Sample_Number:
		n += 1 + 8
	case *lifelinev1.Sample_Flag:
		n += 1 + 1
	case *lifelinev1.Sample_Text:
		n += 1 + protowire.SizeBytes(len(v.Text))
	}
	if s.Status != 0 {
		n += 1 + protowire.SizeVarint(uint64(s.Status))
	}
	if s.Initial {
		n += 2
	}
	if s.History {
		n += 2
	}
	return n
}

func appendInt64(b []byte, num protowire.Number, v int64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func int64Size(v int64) int {
	if v == 0 {
		return 0
	}
	return 1 + protowire.SizeVarint(uint64(v))
}

// appendMessage appends m as the length-delimited field num.
func appendMessage(b []byte, num protowire.Number, m proto.Message) ([]byte, error) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(proto.Size(m)))
	return proto.MarshalOptions{}.MarshalAppend(b, m)
}
