package ingest

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// windowLatency is the ack latency the admission window aims at: by
// Little's law the samples in flight are the commit rate times the time
// each waits, so a budget of rate × windowLatency keeps the wait near it
// whatever the rate, while the streams' agents hold the rest in their
// buffers.
const windowLatency = 2 * time.Second

// windowInterval is how often the commit rate is measured again.
const windowInterval = 500 * time.Millisecond

// admission sizes the budget of unacked samples the streams share: at most
// the configured budget (the writer's pending bound: more would only wait
// in front of it), at least a quarter of it (one insert's worth at the
// defaults, so that a slow spell does not shrink the inserts for long),
// and in between the recent commit rate times windowLatency. It starts at
// the most: a budget the inserts cannot keep up with shrinks within
// seconds, and an idle aggregator's small one grows at every measure while
// batches commit faster than windowLatency.
type admission struct {
	most      int64
	committed atomic.Int64 // samples acked since start

	mu     sync.Mutex
	since  time.Time // start of the current measure
	base   int64     // committed at since
	budget int64
}

func newAdmission(most int) *admission {
	return &admission{most: int64(most), budget: int64(most)}
}

// acked counts n samples committed.
func (a *admission) acked(n int) { a.committed.Add(int64(n)) }

// budgetAt returns the budget, measured again once windowInterval has
// passed since the last measure.
func (a *admission) budgetAt(now time.Time) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.committed.Load()
	if a.since.IsZero() {
		a.since, a.base = now, c
		return a.budget
	}
	el := now.Sub(a.since)
	if el < windowInterval {
		return a.budget
	}
	rate := float64(c-a.base) / el.Seconds()
	want := int64(rate * windowLatency.Seconds())
	want = min(max(want, a.most/4), a.most)
	// Half of the old and half of the new: one slow insert does not
	// close the window at once.
	a.budget = (a.budget + want) / 2
	a.since, a.base = now, c
	return a.budget
}

// windowSamples is the admission window each stream is granted (Welcome and
// Ack window_samples): the budget shared evenly among the open streams, so
// it shrinks as agents join and as commits slow down. An agent that honours
// it keeps at most that many samples unacked per window (live, backlog).
// Without it every agent keeps its whole max_in_flight out: at 100 agents
// 6.4 million samples queued in front of the writer, acked tens of seconds
// after they were sent. 0: no budget (agents use their own window).
func (s *Service) windowSamples() uint32 {
	if s.admission == nil {
		return 0
	}
	share := s.admission.budgetAt(s.now()) / max(s.open.Load(), 1)
	return uint32(min(max(share, 1), math.MaxUint32))
}
