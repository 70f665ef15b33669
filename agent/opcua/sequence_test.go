package opcua

import (
	"slices"
	"testing"

	"github.com/gopcua/opcua/ua"
)

func seqMsg(n uint32) message {
	return message{msg: &ua.NotificationMessage{SequenceNumber: n}}
}

func seqs(ms []message) []uint32 {
	var out []uint32
	for _, m := range ms {
		out = append(out, m.msg.SequenceNumber)
	}
	return out
}

func TestSequencerReorders(t *testing.T) {
	var q sequencer
	var got []uint32
	for _, n := range []uint32{1, 3, 2, 5, 4, 6} {
		got = append(got, seqs(q.push(seqMsg(n)))...)
	}
	if want := []uint32{1, 2, 3, 4, 5, 6}; !slices.Equal(got, want) {
		t.Fatalf("passed on %v, want %v", got, want)
	}
	if len(q.held) != 0 {
		t.Fatalf("%d messages still held", len(q.held))
	}
}

func TestSequencerGivesUpOnALostMessage(t *testing.T) {
	q := sequencer{last: 6}
	q.push(seqMsg(7))
	if out := q.push(seqMsg(9)); len(out) != 0 {
		t.Fatalf("9 passed on before 8: %v", seqs(out))
	}
	if out := q.push(seqMsg(10)); len(out) != 0 {
		t.Fatalf("10 passed on before 8: %v", seqs(out))
	}
	const patience = 2
	for i := range patience {
		if out := q.expire(patience); len(out) != 0 {
			t.Fatalf("response %d: gave up early: %v", i+1, seqs(out))
		}
	}
	out := q.expire(patience)
	if want := []uint32{9, 10}; !slices.Equal(seqs(out), want) {
		t.Fatalf("after giving up on 8 passed on %v, want %v", seqs(out), want)
	}
	if out[0].missing != 1 || out[1].missing != 0 {
		t.Fatalf("missing counts %d, %d; want 1, 0", out[0].missing, out[1].missing)
	}
	// 8 turns up after all: it is data, passed on at once.
	if out := q.push(seqMsg(8)); !slices.Equal(seqs(out), []uint32{8}) {
		t.Fatalf("late 8 gave %v", seqs(out))
	}
	if out := q.push(seqMsg(11)); !slices.Equal(seqs(out), []uint32{11}) {
		t.Fatalf("11 gave %v", seqs(out))
	}
}

func TestSequencerWraps(t *testing.T) {
	q := sequencer{last: ^uint32(0) - 1}
	var got []uint32
	for _, n := range []uint32{1, ^uint32(0), 2} {
		got = append(got, seqs(q.push(seqMsg(n)))...)
	}
	if want := []uint32{^uint32(0), 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("passed on %v, want %v", got, want)
	}
}

// The first two messages of a subscription are ordered too.
func TestSequencerOrdersTheFirstMessages(t *testing.T) {
	var q sequencer
	var got []uint32
	for _, n := range []uint32{2, 1, 3} {
		got = append(got, seqs(q.push(seqMsg(n)))...)
	}
	if want := []uint32{1, 2, 3}; !slices.Equal(got, want) {
		t.Fatalf("passed on %v, want %v", got, want)
	}
}

// A duplicate of a held message is dropped, not held a second time to
// block those after it.
func TestSequencerDropsHeldDuplicates(t *testing.T) {
	var q sequencer
	q.push(seqMsg(1))
	q.push(seqMsg(3))
	q.push(seqMsg(3))
	if got := seqs(q.push(seqMsg(2))); !slices.Equal(got, []uint32{2, 3}) {
		t.Fatalf("passed on %v, want [2 3]", got)
	}
	if got := seqs(q.push(seqMsg(4))); !slices.Equal(got, []uint32{4}) {
		t.Fatalf("4 gave %v: a duplicate is still held", got)
	}
}

func TestSequencerCountsAGapAcrossTheWrap(t *testing.T) {
	q := sequencer{last: ^uint32(0) - 1}
	q.push(seqMsg(2)) // max and 1 lost
	out := q.expire(0)
	if len(out) != 1 || out[0].missing != 2 {
		t.Fatalf("released %v missing %v, want [2] missing 2", seqs(out), out)
	}
}
