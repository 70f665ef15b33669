package writer

import (
	"sync"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// settlement collects what one insert decided about its group, in the
// order it decided it, so that the outcome can be told later and in turn.
type settlement struct {
	steps []step
	ended time.Time // when the insert's last attempt ended
}

// step is either a verdict on batches (group, err) or a part of a batch
// committed on its own (parts, from splitting a refused batch).
type step struct {
	group []pending
	err   error
	parts []*store.Batch
}

func (s *settlement) finish(group []pending, err error) {
	s.steps = append(s.steps, step{group: group, err: err})
}

func (s *settlement) committed(part *store.Batch) {
	s.steps = append(s.steps, step{parts: []*store.Batch{part}})
}

// turns tells the outcomes of inserts in the order they were taken from
// the queue, whatever order they end in. Inserts run side by side, but a
// site's batches must be acked, and shown to the CommitObserver (alarms
// evaluate a site's samples in order), in the order they were queued: a
// later insert that commits first waits for the earlier one's verdict.
type turns struct {
	mu    sync.Mutex
	next  uint64                 // the ticket whose outcome is told next
	ended map[uint64]*settlement // outcomes waiting for an earlier one
}

// tell records ticket's outcome and tells every outcome now due through
// apply, in ticket order, one at a time.
func (t *turns) tell(ticket uint64, s *settlement, apply func(*settlement)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended == nil {
		t.ended = map[uint64]*settlement{}
	}
	t.ended[ticket] = s
	for {
		due, ok := t.ended[t.next]
		if !ok {
			return
		}
		delete(t.ended, t.next)
		t.next++
		apply(due)
	}
}
