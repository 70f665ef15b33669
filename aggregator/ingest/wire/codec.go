package wire

import (
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Codec is the ingest server's gRPC codec: it decodes the agents' messages
// with Unmarshal and leaves everything else, and every reply, to gRPC's
// own protobuf codec. It speaks the same wire format under the same name,
// so agents see no difference.
type Codec struct {
	proto encoding.CodecV2
}

// NewCodec returns the codec, over gRPC's registered protobuf codec.
func NewCodec() *Codec {
	return &Codec{proto: encoding.GetCodecV2(protocodec.Name)}
}

// Name is the content subtype, protobuf's.
func (c *Codec) Name() string { return protocodec.Name }

// Marshal encodes v with gRPC's protobuf codec.
func (c *Codec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

// Unmarshal decodes data into v. gRPC frees data when Unmarshal returns;
// nothing decoded aliases it.
func (c *Codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*lifelinev1.AgentMessage)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	// As gRPC's protobuf codec does: one contiguous buffer, from the pool
	// unless the message came in one piece already.
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return Unmarshal(buf.ReadOnlyData(), m)
}
