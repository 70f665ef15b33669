package ingest

import "math"

// windowSamples is the admission window each stream is granted (Welcome and
// Ack window_samples): the budget (the writer's pending bound) shared
// evenly among the open streams, so it shrinks as agents join. An agent
// that honours it keeps at most that many samples unacked per window
// (live, backlog), so the samples in flight stay near what the writer can
// hold, and an ack comes about budget ÷ commit rate after its batch was
// sent; the rest waits in the agents' disk buffers. Without it every agent
// keeps its whole max_in_flight out: at 100 agents 6.4 million samples
// queued in front of the writer, acked tens of seconds after they were
// sent. A budget that follows the commit rate (rate × 1.5 s, or 2 s, at
// least an eighth or a quarter of the bound) was tried: at 100 agents it
// leaves one batch per agent in flight, two inserts' worth, so the writer
// has nothing queued while both inserts run, and it sustained half the
// rate of agents ignoring it in the same run. 0: no budget (agents use
// their own window).
func (s *Service) windowSamples() uint32 {
	budget := int64(s.opts.WindowSamples)
	if budget <= 0 {
		return 0
	}
	share := budget / max(s.open.Load(), 1)
	return uint32(min(max(share, 1), math.MaxUint32))
}

// firstWindow is the window of a new stream's Welcome: a single batch (1
// sample; an agent always has one batch out) until the first ack grants
// its share. Streams of a reconnect storm are welcomed one after another;
// granting each the share of the streams open so far would let the first
// ones send their whole max_in_flight at once (measured: the same ack
// latency as agents ignoring the window). One round trip later it is the
// share of all of them.
func (s *Service) firstWindow() uint32 {
	if s.opts.WindowSamples <= 0 {
		return 0
	}
	return 1
}
