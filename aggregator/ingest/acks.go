package ingest

import (
	"sync"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// ackQueue carries acks from the writer's goroutine to the stream's sender
// without ever blocking the writer: a slow agent must not stall the inserts
// of every other agent.
type ackQueue struct {
	mu      sync.Mutex
	pending []*lifelinev1.Ack
	signal  chan struct{}
}

func newAckQueue() *ackQueue { return &ackQueue{signal: make(chan struct{}, 1)} }

func (q *ackQueue) push(a *lifelinev1.Ack) {
	q.mu.Lock()
	q.pending = append(q.pending, a)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *ackQueue) ready() <-chan struct{} { return q.signal }

func (q *ackQueue) take() []*lifelinev1.Ack {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.pending
	q.pending = nil
	return out
}
