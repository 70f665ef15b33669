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
}

// claim registers a stream for site and cancels any earlier one. The
// returned release must be called when the stream ends.
func (s *sessions) claim(site string, cancel context.CancelFunc) (release func(), replaced bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active == nil {
		s.active = make(map[string]session)
	}
	old, replaced := s.active[site]
	if replaced {
		old.cancel()
	}
	s.next++
	id := s.next
	s.active[site] = session{id: id, cancel: cancel}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if cur, ok := s.active[site]; ok && cur.id == id {
			delete(s.active, site)
		}
	}, replaced
}

// count returns the number of connected sites.
func (s *sessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.active)
}
