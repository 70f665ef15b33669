package ingest

import (
	"context"
	"sync"
)

// sessions keeps at most one live stream per site. A new stream for a site
// replaces the old one: the old is most likely a half-open link the agent
// has already given up on, and two streams of one site would race on its
// sequence numbers.
type sessions struct {
	mu     sync.Mutex
	next   uint64
	active map[string]session
}

type session struct {
	id     uint64
	cancel context.CancelFunc
	// pending counts the stream's receive loop and every batch it handed to
	// the writer that is not yet committed or failed.
	pending *sync.WaitGroup
}

// claim registers a stream for site and cancels any earlier one, returning
// the earlier one's pending work. The new stream must wait for it before it
// tells the agent what is committed: a batch still in the writer would
// otherwise be reported missing, resent, and stored twice.
// The returned release must be called when the stream ends.
func (s *sessions) claim(site string, cancel context.CancelFunc, pending *sync.WaitGroup) (release func(), previous *sync.WaitGroup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active == nil {
		s.active = make(map[string]session)
	}
	old, replaced := s.active[site]
	if replaced {
		old.cancel()
		previous = old.pending
	}
	s.next++
	id := s.next
	s.active[site] = session{id: id, cancel: cancel, pending: pending}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if cur, ok := s.active[site]; ok && cur.id == id {
			delete(s.active, site)
		}
	}, previous
}

// count returns the number of connected sites.
func (s *sessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.active)
}
