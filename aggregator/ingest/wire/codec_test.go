package wire

import (
	"testing"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// pieces splits b into a BufferSlice of n-byte buffers, as gRPC hands over
// a message read in several frames.
func pieces(b []byte, n int) mem.BufferSlice {
	var s mem.BufferSlice
	for len(b) > 0 {
		k := min(n, len(b))
		s = append(s, mem.SliceBuffer(b[:k]))
		b = b[k:]
	}
	return s
}

func TestCodecDecodesAgentMessages(t *testing.T) {
	c := NewCodec()
	if c.Name() != "proto" {
		t.Fatalf("name %q: agents would need another content subtype", c.Name())
	}
	want := benchBatch(50)
	for _, n := range []int{1 << 20, 100, 1} {
		var got lifelinev1.AgentMessage
		if err := c.Unmarshal(pieces(marshal(t, want), n), &got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(&got, want) {
			t.Fatalf("in pieces of %d: got %v", n, &got)
		}
	}
	var m lifelinev1.AgentMessage
	if err := c.Unmarshal(pieces([]byte{0x12, 0x05, 0x08}, 2), &m); err == nil {
		t.Fatal("a truncated message decoded")
	}
}

// TestCodecDelegates: replies and other messages go through gRPC's own
// protobuf codec, both ways.
func TestCodecDelegates(t *testing.T) {
	c, ref := NewCodec(), encoding.GetCodecV2("proto")
	ack := &lifelinev1.AggregatorMessage{Body: &lifelinev1.AggregatorMessage_Ack{Ack: &lifelinev1.Ack{Seq: 9, SetAside: "太大"}}}
	got, err := c.Marshal(ack)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.Marshal(ack)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Materialize()) != string(want.Materialize()) {
		t.Fatalf("Marshal: %x, want %x", got.Materialize(), want.Materialize())
	}
	var back lifelinev1.AggregatorMessage
	if err := c.Unmarshal(got, &back); err != nil || !proto.Equal(&back, ack) {
		t.Fatalf("Unmarshal: %v, %v", &back, err)
	}
	got.Free()
	want.Free()
	if err := c.Unmarshal(mem.BufferSlice{}, struct{}{}); err == nil {
		t.Fatal("decoded into a non-message")
	}
}
