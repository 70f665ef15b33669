package opcua

import (
	"slices"
	"time"

	"github.com/gopcua/opcua/ua"
)

// message is one notification message and when its response arrived.
type message struct {
	msg      *ua.NotificationMessage
	received time.Time
	// missing is how many sequence numbers before this message were given
	// up on (0 when it follows the previous one).
	missing uint32
	// waited counts the publish responses that arrived while it was held.
	waited int
}

// sequencer puts one subscription's notification messages back in
// sequence-number order.
//
// The reader keeps several publish requests outstanding, each sent and
// awaited by its own goroutine, so two responses that arrive together can
// reach the reader in either order; the first values of new items, and the
// order of each point's samples, depend on handling them as the server
// numbered them. A message that arrives ahead of its predecessor is held
// until the predecessor comes or until patience further responses have
// arrived without it: then the server is taken to have lost it (gopcua's
// server does not retransmit) and the held message goes on.
type sequencer struct {
	last uint32    // last sequence number passed on; 0 before the first
	held []message // ahead of last+1, in sequence order
}

// next is the sequence number after n; 0 is never used (OPC UA Part 4,
// 7.38: it wraps from the maximum to 1).
func next(n uint32) uint32 {
	if n == ^uint32(0) {
		return 1
	}
	return n + 1
}

// after reports whether a comes after b, in sequence space that wraps.
func after(a, b uint32) bool { return a != b && a-b < 1<<31 }

// push takes m and returns the messages now in order, m among them unless
// it is held. A message older than the last one passed on (a late
// duplicate, or a predecessor given up on) is returned at once: it is data.
func (q *sequencer) push(m message) []message {
	// A subscription's first message is number 1 (next(0)), so even the
	// first two are put in order.
	switch seq := m.msg.SequenceNumber; {
	case seq == next(q.last):
		q.last = seq
		return q.release([]message{m})
	case q.last != 0 && !after(seq, q.last):
		return []message{m}
	default:
		i, held := slices.BinarySearchFunc(q.held, seq, func(h message, s uint32) int {
			switch {
			case h.msg.SequenceNumber == s:
				return 0
			case after(s, h.msg.SequenceNumber):
				return -1
			}
			return 1
		})
		if held {
			return nil // a duplicate of one already waiting
		}
		q.held = slices.Insert(q.held, i, m)
		return nil
	}
}

// expire notes one more publish response and gives up on the gap before
// the oldest held message once it has waited more than patience of them.
func (q *sequencer) expire(patience int) []message {
	for i := range q.held {
		q.held[i].waited++
	}
	if len(q.held) == 0 || q.held[0].waited <= patience {
		return nil
	}
	m := q.held[0]
	q.held = q.held[1:]
	m.missing = m.msg.SequenceNumber - next(q.last)
	if m.msg.SequenceNumber < next(q.last) {
		m.missing-- // the gap spans the wrap, which skips 0
	}
	q.last = m.msg.SequenceNumber
	return q.release([]message{m})
}

// release appends the held messages that now follow in order.
func (q *sequencer) release(out []message) []message {
	for len(q.held) > 0 && q.held[0].msg.SequenceNumber == next(q.last) {
		q.last = q.held[0].msg.SequenceNumber
		out = append(out, q.held[0])
		q.held = q.held[1:]
	}
	return out
}
