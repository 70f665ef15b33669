package ingest

import (
	"errors"
	"sync"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// ackQueue carries acks and nacks from the writer's goroutine to the
// stream's sender without ever blocking the writer: a slow agent must not
// stall the inserts of every other agent.
type ackQueue struct {
	mu      sync.Mutex
	pending []*lifelinev1.AggregatorMessage
	signal  chan struct{}
}

func newAckQueue() *ackQueue { return &ackQueue{signal: make(chan struct{}, 1)} }

func (q *ackQueue) push(a *lifelinev1.Ack) {
	q.add(&lifelinev1.AggregatorMessage{Body: &lifelinev1.AggregatorMessage_Ack{Ack: a}})
}

func (q *ackQueue) nack(n *lifelinev1.Nack) {
	q.add(&lifelinev1.AggregatorMessage{Body: &lifelinev1.AggregatorMessage_Nack{Nack: n}})
}

func (q *ackQueue) add(m *lifelinev1.AggregatorMessage) {
	q.mu.Lock()
	q.pending = append(q.pending, m)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *ackQueue) ready() <-chan struct{} { return q.signal }

func (q *ackQueue) take() []*lifelinev1.AggregatorMessage {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.pending
	q.pending = nil
	return out
}

// nackRetryAfter is how long an agent waits before sending again a batch
// the aggregator could not commit, unless the store asked for longer.
const nackRetryAfter = 5 * time.Second

// settle answers the writer's verdict on a batch: an ack once it is
// committed, an ack naming the set-aside rows once ClickHouse refused some
// for good and they are recorded (the agent may delete the batch either
// way), or a nack when it is not committed and the agent must keep it.
func settle(q *ackQueue, m *Metrics, ack *lifelinev1.Ack, err error) {
	var aside *store.SetAsideError
	switch {
	case err == nil:
		q.push(ack)
	case errors.As(err, &aside):
		ack.SetAside = aside.Reason
		ack.SetAsideSamples = uint32(aside.Samples)
		m.setAside.Add(float64(aside.Samples))
		q.push(ack)
	default:
		m.nacks.Inc()
		after := nackRetryAfter
		var throttle *store.ThrottleError
		if errors.As(err, &throttle) {
			after = max(after, throttle.After)
		}
		q.nack(&lifelinev1.Nack{Seq: ack.GetSeq(), Reason: err.Error(), Retryable: true, RetryAfterMs: after.Milliseconds()})
	}
}
