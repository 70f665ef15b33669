package batcher

import lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"

// maxPendingLiveness bounds the liveness records waiting while the buffer
// refuses writes: a day of minutes. Older ones are dropped; the points
// then count as offline for those minutes, which the buffer_unwritable
// gap of the same span explains.
const maxPendingLiveness = 1440

// RecordLiveness queues a liveness record (the points alive without a
// change in one minute) for the next batch.
func (b *Batcher) RecordLiveness(l *lifelinev1.Liveness) {
	b.mu.Lock()
	b.alive = capLiveness(append(b.alive, l))
	b.mu.Unlock()
}

func capLiveness(ls []*lifelinev1.Liveness) []*lifelinev1.Liveness {
	if over := len(ls) - maxPendingLiveness; over > 0 {
		return ls[over:]
	}
	return ls
}
