package bench

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// preEncoded is an AgentMessage already in wire form. The load generator
// encodes each agent's samples once and only the sequence number and times per
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

// stampWidth is the varint width of every Unix ns time from 1972 to 2262:
// rewriting one such timestamp with another keeps the message's length.
const stampWidth = 9

// stampOffsets returns where the timestamps of each sample of batch (the
// wire form of a Batch) begin, source, server and receive time in turn,
// sample by sample; each must be stampWidth bytes wide.
func stampOffsets(batch []byte) ([]int, error) {
	var offsets []int
	for pos := 0; pos < len(batch); {
		num, typ, n := protowire.ConsumeTag(batch[pos:])
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		pos += n
		if num != 2 || typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, batch[pos:])
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			pos += n
			continue
		}
		smp, n := protowire.ConsumeBytes(batch[pos:])
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		start := pos + n - len(smp)
		for at := 0; at < len(smp); {
			fnum, ftyp, m := protowire.ConsumeTag(smp[at:])
			if m < 0 {
				return nil, protowire.ParseError(m)
			}
			at += m
			v := protowire.ConsumeFieldValue(fnum, ftyp, smp[at:])
			if v < 0 {
				return nil, protowire.ParseError(v)
			}
			if fnum >= 2 && fnum <= 4 {
				if v != stampWidth {
					return nil, fmt.Errorf("timestamp field %d is %d bytes wide, want %d", fnum, v, stampWidth)
				}
				offsets = append(offsets, start+at)
			}
			at += v
		}
		pos += n
	}
	return offsets, nil
}

// restamp rewrites in place the timestamps at offsets (from stampOffsets)
// of batch, the wire form of a Batch: sample i's source and server
// time become nowNs plus its round (i ÷ points) in ns, so each point's
// times rise within the batch and from one batch to the next, and its
// receive time nowNs.
func restamp(batch []byte, offsets []int, points int, nowNs int64) {
	for i := 0; i+2 < len(offsets); i += 3 {
		ts := uint64(nowNs + int64(i/3/points))
		protowire.AppendVarint(batch[offsets[i]:offsets[i]], ts)
		protowire.AppendVarint(batch[offsets[i+1]:offsets[i+1]], ts)
		protowire.AppendVarint(batch[offsets[i+2]:offsets[i+2]], uint64(nowNs))
	}
}
