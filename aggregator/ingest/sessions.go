package ingest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultLiveWindow is how recently a site's stream must have received a
// message to count as live. Agents send a status every 10 s by default, so
// a stream silent for longer is a half-open link its agent has left.
const DefaultLiveWindow = 25 * time.Second

// sessions keeps at most one stream per site.
//
// A new stream of a site whose stream is still live is refused: it is a
// second agent speaking for the site (two PCs given one certificate, a
// cloned buffer), and two agents' batches must never be merged into one
// record. A new stream takes over instead when the old one has been silent
// for the live window (a half-open link its agent gave up on), or when it
// comes from the same buffer and holds every batch the old stream received
// (the same agent reconnecting faster than the server saw the old link die).
// Agents without a buffer identity always take over, as they always did.
type sessions struct {
	liveWindow time.Duration
	now        func() time.Time

	mu     sync.Mutex
	next   uint64
	active map[string]*session
	// ended holds, per site, the last stream that ended without being
	// replaced: its batches (and its predecessors') may still be in the
	// writer, and the site's next stream must wait for them.
	ended map[string]*session
}

type session struct {
	id       uint64
	bufferID string
	cancel   context.CancelFunc
	// pending counts the stream's receive loop and every batch it handed to
	// the writer that is not yet committed or failed.
	pending *sync.WaitGroup
	// prev is the stream this one replaced, whose batches (and whose own
	// predecessors') may still be in the writer; nil once waited for.
	prev *session

	lastRecv atomic.Int64  // Unix ns of the last message received
	maxSeq   atomic.Uint64 // highest batch sequence received
}

// received records a message (and its batch's seq, 0 for none).
func (s *session) received(now time.Time, seq uint64) {
	s.lastRecv.Store(now.UnixNano())
	for {
		cur := s.maxSeq.Load()
		if seq <= cur || s.maxSeq.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// SiteInUseError refuses a second live agent for a site.
type SiteInUseError struct {
	Site, BufferID, LiveBufferID string
	Silent                       time.Duration // since the live stream's last message
}

func (e *SiteInUseError) Error() string {
	return fmt.Sprintf("site %s already has a live agent stream (buffer %q, last message %s ago); "+
		"refusing a second agent (buffer %q): two agents must not share one site identity",
		e.Site, e.LiveBufferID, e.Silent.Round(time.Millisecond), e.BufferID)
}

// claim registers a stream for site, replacing (and cancelling) an earlier
// one that is no longer live, or refuses it with *SiteInUseError. The new
// stream must call wait before it tells the agent what is committed: a
// batch of an earlier stream still in the writer would otherwise be
// reported missing, resent and stored twice. release must be called when
// the stream ends.
func (s *sessions) claim(site, bufferID string, newestSeq uint64, cancel context.CancelFunc, pending *sync.WaitGroup) (*session, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active == nil {
		s.active = make(map[string]*session)
		s.ended = make(map[string]*session)
	}
	now := s.now()
	cur := &session{bufferID: bufferID, cancel: cancel, pending: pending}
	cur.lastRecv.Store(now.UnixNano())
	if old, ok := s.active[site]; ok {
		silent := now.Sub(time.Unix(0, old.lastRecv.Load()))
		sameAgent := old.bufferID == bufferID && newestSeq >= old.maxSeq.Load()
		if bufferID != "" && silent < s.liveWindow && !sameAgent {
			return nil, nil, &SiteInUseError{Site: site, BufferID: bufferID, LiveBufferID: old.bufferID, Silent: silent}
		}
		old.cancel()
		cur.prev = old
	} else if e, ok := s.ended[site]; ok {
		cur.prev = e
	}
	delete(s.ended, site)
	s.next++
	cur.id = s.next
	s.active[site] = cur
	return cur, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if a, ok := s.active[site]; ok && a.id == cur.id {
			delete(s.active, site)
			s.ended[site] = cur
		}
	}, nil
}

// wait returns once every stream cur replaced, directly or through others,
// has no batch left in the writer, or ctx ends.
func (s *sessions) wait(ctx context.Context, cur *session) error {
	for {
		s.mu.Lock()
		p := cur.prev
		s.mu.Unlock()
		if p == nil {
			return nil
		}
		if err := waitGroup(ctx, p.pending); err != nil {
			return err
		}
		s.mu.Lock()
		cur.prev = p.prev
		s.mu.Unlock()
	}
}

// count returns the number of connected sites.
func (s *sessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.active)
}

// waitGroup waits for wg or ctx, whichever comes first.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
