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
// Streams that hold little are quiet: a quiet stream is granted the even
// share (budget ÷ open streams), or four times what it held after its
// last batch if more, and the busy ones split what the quiet ones do not
// hold. An even split alone starved loaded agents beside many idle ones:
// 1,000 idle agents holding 10 samples each left each of 10 loaded agents
// ~400 samples, less than one batch, so they sent one batch per ack round
// trip. A stream is quiet when, after sending a batch, it holds less than
// half its last grant: it is not using its window. Measured against its
// own grant rather than against the even share, an idle agent stays quiet
// when acks slow down (at 10 s it holds 10 batches of 10) and turns busy
// only when what it holds doubles between two batches.
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
	quiet     int64 // streams not using their window
	quietHeld int64 // samples those streams hold unacked
}

// quietRoom is how many times what it held a quiet stream is granted.
const quietRoom = 4

// streamShare is one stream's account in windowShares. A stream counts as
// busy until its first batch is acked (it was granted a single batch), so
// the streams of a reconnect storm do not grant the first ones the whole
// budget.
type streamShare struct {
	w       *windowShares
	held    int64
	peak    int64 // held after the last batch sent
	granted int64 // the window last granted (the Welcome's: 1)
	quiet   bool
	closed  bool
}

func (w *windowShares) join() *streamShare { return &streamShare{w: w, granted: 1} }

// sent counts a batch of n samples the stream sent and classifies the
// stream by what it holds now.
func (s *streamShare) sent(n int) {
	w := s.w
	if w.budget <= 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if s.closed {
		return
	}
	s.held += int64(n)
	s.peak = s.held
	quiet := s.held*2 < s.granted
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
	defer w.mu.Unlock()
	if !s.closed {
		s.held -= int64(n)
		if s.quiet {
			w.quietHeld -= int64(n)
		}
	}
	busy := max(even, (w.budget-w.quietHeld)/max(open-w.quiet, 1))
	share := busy
	if s.quiet {
		share = min(max(even, quietRoom*s.peak), busy)
	}
	share = min(max(share, 1), math.MaxUint32)
	s.granted = share
	return uint32(share)
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
