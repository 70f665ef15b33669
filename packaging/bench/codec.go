package bench

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// preEncoded is an AgentMessage already in wire form. The load generator
// encodes each agent's samples once and only the sequence number per
// batch, so on a machine shared with the aggregator and ClickHouse it
// takes little of the CPU it would otherwise take from them; remote agents
// would encode on their own machines.
type preEncoded []byte

// encodeBatchMessage returns AgentMessage{batch: {seq, samples}} where
// samples is the wire form of a Batch holding only its samples (field 2).
func encodeBatchMessage(dst []byte, seq uint64, samples []byte) []byte {
	body := protowire.SizeTag(1) + protowire.SizeVarint(seq) + len(samples)
	dst = protowire.AppendTag(dst, 2, protowire.BytesType) // AgentMessage.batch
	dst = protowire.AppendVarint(dst, uint64(body))
	dst = protowire.AppendTag(dst, 1, protowire.VarintType) // Batch.seq
	dst = protowire.AppendVarint(dst, seq)
	return append(dst, samples...)
}

// passCodec sends preEncoded messages as they are and everything else
// (the hello; the acks it receives) as protobuf.
type passCodec struct{}

func (passCodec) Marshal(v any) ([]byte, error) {
	switch m := v.(type) {
	case preEncoded:
		return m, nil
	case proto.Message:
		return proto.Marshal(m)
	}
	return nil, fmt.Errorf("passCodec: cannot encode %T", v)
}

func (passCodec) Unmarshal(data []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("passCodec: cannot decode into %T", v)
	}
	return proto.Unmarshal(data, m)
}

// Name is that of the protobuf codec: the server sees an ordinary stream.
func (passCodec) Name() string { return "proto" }

// encodeSamples returns the wire form of Batch{Samples: samples}.
func encodeSamples(samples []*lifelinev1.Sample) ([]byte, error) {
	return proto.Marshal(&lifelinev1.Batch{Samples: samples})
}
