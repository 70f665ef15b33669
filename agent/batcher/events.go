package batcher

import lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"

// maxPendingEvents bounds the condition events waiting while the buffer
// refuses writes. Older ones are dropped first: the next ConditionRefresh
// re-sends the state of every retained condition, so what is lost is
// history, not the current alarm picture.
const maxPendingEvents = 20000

// maxBatchEvents keeps a batch of events well inside the link's message
// limit (an event is a few hundred bytes).
const maxBatchEvents = 1000

// RecordConditionEvent queues an OPC UA condition event for the next batch.
func (b *Batcher) RecordConditionEvent(e *lifelinev1.ConditionEvent) {
	b.mu.Lock()
	b.events = capEvents(append(b.events, e))
	b.mu.Unlock()
}

// takeEvents removes up to maxBatchEvents queued events; b.mu is held.
func (b *Batcher) takeEvents() []*lifelinev1.ConditionEvent {
	n := min(len(b.events), maxBatchEvents)
	if n == 0 {
		return nil
	}
	out := make([]*lifelinev1.ConditionEvent, n)
	copy(out, b.events)
	rest := copy(b.events, b.events[n:])
	clear(b.events[rest:])
	b.events = b.events[:rest]
	return out
}

func capEvents(es []*lifelinev1.ConditionEvent) []*lifelinev1.ConditionEvent {
	if over := len(es) - maxPendingEvents; over > 0 {
		return es[over:]
	}
	return es
}
