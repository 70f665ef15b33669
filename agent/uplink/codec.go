package uplink

import (
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// codec hands an encodedBatch to gRPC as the bytes it already is; every
// other message sent, and every message received, goes through gRPC's
// proto codec. It is set as a call option of the uplink's connection
// (grpc.ForceCodecV2), so nothing global changes.
type codec struct{ proto encoding.CodecV2 }

// newCodec returns the codec; importing grpcproto registers the codec it
// delegates to.
func newCodec() codec { return codec{proto: encoding.GetCodecV2(grpcproto.Name)} }

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	if b, ok := v.(*encodedBatch); ok {
		// The stored bytes are not copied: gRPC only reads them, and the
		// entry read from the buffer is not touched again.
		return mem.BufferSlice{mem.SliceBuffer(b.head), mem.SliceBuffer(b.body), mem.SliceBuffer(b.tail)}, nil
	}
	return c.proto.Marshal(v)
}

func (c codec) Unmarshal(data mem.BufferSlice, v any) error { return c.proto.Unmarshal(data, v) }

// Name keeps the content-subtype proto: the aggregator decodes what this
// codec sends with its ordinary proto codec.
func (codec) Name() string { return grpcproto.Name }

// Field numbers of the messages framed by hand; they are part of the
// protocol (proto/lifeline/v1/lifeline.proto) and never change.
const (
	agentMessageBatch protowire.Number = 2 // AgentMessage.batch
	batchSeq          protowire.Number = 1 // Batch.seq
	batchSamples      protowire.Number = 2 // Batch.samples
	batchBackfill     protowire.Number = 3 // Batch.backfill
)

// encodedBatch is the wire form of AgentMessage{batch: B}, where B is a
// Batch as the batcher stored it with seq and backfill set. Those two are
// appended after the stored bytes: in the protobuf wire format the last
// value of a scalar field wins, so whatever the stored bytes hold for them
// (nothing, as the batcher writes them) is overridden, and the aggregator
// decodes exactly the message it would have decoded from a re-encoded one.
type encodedBatch struct {
	head []byte // AgentMessage.batch: tag and length
	body []byte // the stored Batch
	tail []byte // Batch.seq and Batch.backfill
}

func newEncodedBatch(stored []byte, seq uint64, backfill bool) *encodedBatch {
	// One allocation for both frames (two one-byte tags and varints, a bool
	// and a tag and length): the tail first, then the head, whose length
	// depends on it.
	frame := make([]byte, 0, 32)
	frame = protowire.AppendTag(frame, batchSeq, protowire.VarintType)
	frame = protowire.AppendVarint(frame, seq)
	frame = protowire.AppendTag(frame, batchBackfill, protowire.VarintType)
	frame = protowire.AppendVarint(frame, protowire.EncodeBool(backfill))
	n := len(frame)
	frame = protowire.AppendTag(frame, agentMessageBatch, protowire.BytesType)
	frame = protowire.AppendVarint(frame, uint64(len(stored)+n))
	return &encodedBatch{head: frame[n:], body: stored, tail: frame[:n:n]}
}
