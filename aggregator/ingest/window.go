package ingest

import (
	"math"
	"sync"
)

// windowShares grants each stream its admission window (Welcome and Ack
// window_samples) out of a budget, the writer's pending bound, so that
// the samples in flight stay near what the writer can hold and an ack
// comes about budget ÷ commit rate after its batch was sent; the rest
// waits in the agents' disk buffers. Without it every agent keeps its
// whole max_in_flight out: at 100 agents 6.4 million samples queued in
// front of the writer, acked tens of seconds after they were sent.
//
// Streams that hold little are quiet: a quiet stream is granted an even
// share (budget ÷ open streams), and the busy ones split what the quiet
// ones leave unused. An even split alone starved loaded agents beside
// many idle ones: 1,000 idle agents holding 10 samples each left each of
// 10 loaded agents ~400 samples, less than one batch, so they sent one
// batch per ack round trip. A quiet stream that starts to send more
// becomes busy at its next batch; until then it can add at most its even
// share, so the streams together hold at most twice the budget.
//
// A budget that follows the commit rate (rate × 1.5 s, or 2 s, at least an
// eighth or a quarter of the bound) was tried: at 100 agents it leaves one
// batch per agent in flight, two inserts' worth, so the writer has nothing
// queued while both inserts run, and it sustained half the rate of agents
// ignoring it in the same run.
type windowShares struct {
	budget int64 // 0: no budget (agents use their own window)
	open   func() int64

	mu        sync.Mutex
	quiet     int64 // streams known to hold little
	quietHeld int64 // samples those streams hold unacked
}

// quietFraction: a stream holding less than this fraction of the even
// share after sending a batch is quiet. Loaded agents hold several
// batches of up to thousands of samples; idle ones one small batch.
const quietFraction = 4

// streamShare is one stream's account in windowShares. Streams count as
// busy until their first batch shows otherwise, so that the streams of a
// reconnect storm do not grant the first ones the whole budget.
type streamShare struct {
	w      *windowShares
	held   int64
	quiet  bool
	closed bool
}

func (w *windowShares) join() *streamShare { return &streamShare{w: w} }

// evenShare is the budget split evenly among the open streams.
func (w *windowShares) evenShare() int64 { return w.budget / max(w.open(), 1) }

// sent counts a batch of n samples the stream sent and classifies the
// stream by what it holds now.
func (s *streamShare) sent(n int) {
	w := s.w
	if w.budget <= 0 {
		return
	}
	even := w.evenShare()
	w.mu.Lock()
	defer w.mu.Unlock()
	if s.closed {
		return
	}
	s.held += int64(n)
	quiet := s.held*quietFraction < even
	switch {
	case quiet && s.quiet:
		w.quietHeld += int64(n)
	case quiet:
		w.quiet++
		w.quietHeld += s.held
	case s.quiet:
		w.quiet--
		w.quietHeld -= s.held - int64(n)
	}
	s.quiet = quiet
}

// acked releases a batch of n samples and returns the window its ack
// grants.
func (s *streamShare) acked(n int) uint32 {
	w := s.w
	if w.budget <= 0 {
		return 0
	}
	open := max(w.open(), 1)
	even := w.budget / open
	w.mu.Lock()
	if !s.closed {
		s.held -= int64(n)
		if s.quiet {
			w.quietHeld -= int64(n)
		}
	}
	share := even
	if !s.quiet {
		share = max(even, (w.budget-w.quietHeld)/max(open-w.quiet, 1))
	}
	w.mu.Unlock()
	return uint32(min(max(share, 1), math.MaxUint32))
}

// close takes the ended stream out of the accounts; acks of its batches
// that commit later change nothing.
func (s *streamShare) close() {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if !s.closed && s.quiet {
		w.quiet--
		w.quietHeld -= s.held
	}
	s.closed = true
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
