// Package wire decodes the agents' stream messages by hand: a batch's samples,
// their number values and their point IDs each come from one allocation.
package wire

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Unmarshal decodes b into m: the same message proto.Unmarshal makes, and an
// error wherever proto.Unmarshal returns one. Nothing in m aliases b.
//
// proto.Unmarshal allocates three objects per sample (the Sample, its
// value's oneof wrapper, its point ID) and was a third of the aggregator's
// allocations, 100,000 samples a second; here a batch of samples costs a
// handful. Only the common shape is decoded here: a message holding one
// Batch, whose samples have no unknown fields. Anything else, and every
// malformed input, goes to proto.Unmarshal, which is the reference for
// what is accepted and how.
func Unmarshal(b []byte, m *lifelinev1.AgentMessage) error {
	if inner, ok := onlyBatch(b); ok {
		if batch, ok := decodeBatch(inner); ok {
			proto.Reset(m)
			m.Body = &lifelinev1.AgentMessage_Batch{Batch: batch}
			return nil
		}
	}
	return proto.Unmarshal(b, m)
}

// onlyBatch returns the encoded Batch when it is the one field of b. A
// field repeated would merge into the first, and a second oneof field
// replace it: those go to proto.Unmarshal.
func onlyBatch(b []byte) ([]byte, bool) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num != 2 || typ != protowire.BytesType {
		return nil, false
	}
	v, m := protowire.ConsumeBytes(b[n:])
	if m < 0 || n+m != len(b) {
		return nil, false
	}
	return v, true
}

// Field numbers of Batch.
const (
	batchSeq             = 1
	batchSamples         = 2
	batchBackfill        = 3
	batchGaps            = 4
	batchLiveness        = 5
	batchConditionEvents = 6
)

// countSamples checks that every field of the Batch b is well formed and
// one decodeBatch knows with its own wire type, and counts the samples.
func countSamples(b []byte) (int, bool) {
	n := 0
	for len(b) > 0 {
		num, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return 0, false
		}
		b = b[k:]
		switch {
		case (num == batchSeq || num == batchBackfill) && typ == protowire.VarintType:
		case num >= batchSamples && num <= batchConditionEvents && num != batchBackfill && typ == protowire.BytesType:
			if num == batchSamples {
				n++
			}
		default:
			return 0, false
		}
		if k = protowire.ConsumeFieldValue(num, typ, b); k < 0 {
			return 0, false
		}
		b = b[k:]
	}
	return n, true
}

// decodeBatch decodes the Batch b, or returns false for proto.Unmarshal to
// decode the whole message: b holds an unknown field, a known one with an
// unexpected wire type, or is malformed.
func decodeBatch(b []byte) (*lifelinev1.Batch, bool) {
	n, ok := countSamples(b)
	if !ok {
		return nil, false
	}
	batch := &lifelinev1.Batch{}
	d := newSamples(b, n)
	defer d.release()
	for i := 0; i < len(b); {
		// countSamples checked every tag and value.
		num, typ, k := protowire.ConsumeTag(b[i:])
		i += k
		if typ == protowire.VarintType {
			v, k := protowire.ConsumeVarint(b[i:])
			i += k
			if num == batchSeq {
				batch.Seq = v
			} else {
				batch.Backfill = protowire.DecodeBool(v)
			}
			continue
		}
		v, k := protowire.ConsumeBytes(b[i:])
		from := i + k - len(v)
		i += k
		var err error
		switch num {
		case batchSamples:
			ok = d.decode(from, i)
		case batchGaps:
			batch.Gaps, err = appendDecoded(batch.Gaps, v)
		case batchLiveness:
			batch.Liveness, err = appendDecoded(batch.Liveness, v)
		case batchConditionEvents:
			batch.ConditionEvents, err = appendDecoded(batch.ConditionEvents, v)
		}
		if !ok || err != nil {
			return nil, false
		}
	}
	batch.Samples = d.finish()
	return batch, true
}

// appendDecoded appends the message b to ms. Gaps, liveness and condition
// events are rare, so proto.Unmarshal decodes them: each occurrence of a
// repeated message field is a new element, decoded alone.
func appendDecoded[M any, P interface {
	*M
	proto.Message
}](ms []P, b []byte) ([]P, error) {
	m := P(new(M))
	if err := proto.Unmarshal(b, m); err != nil {
		return ms, err
	}
	return append(ms, m), nil
}
