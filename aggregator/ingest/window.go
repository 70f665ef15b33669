package ingest

import "math"

// windowSamples is the admission window each stream is granted (Welcome and
// Ack window_samples): the Service's budget shared evenly among the open
// streams, so it shrinks as agents join. An agent that honours it keeps at
// most that many samples unacked per window (live, backlog), and what the
// aggregator holds stays near the budget however many agents send. Without
// it every agent keeps its whole max_in_flight out: at 100 agents 6.4
// million samples queued in front of the writer, acked tens of seconds
// after they were sent although every one waits its turn in order. 0: no
// budget (agents use their own window).
func (s *Service) windowSamples() uint32 {
	budget := int64(s.opts.WindowSamples)
	if budget <= 0 {
		return 0
	}
	share := budget / max(s.open.Load(), 1)
	return uint32(min(max(share, 1), math.MaxUint32))
}
