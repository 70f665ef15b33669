package obs

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Heartbeat is stamped by a loop each time it comes round. Its check tells
// a wedged loop (one that stopped coming round) from a live one; a loop
// that has not started yet counts as live, so a slow start (a large buffer
// being opened) is not mistaken for a hang.
type Heartbeat struct {
	last atomic.Int64 // Unix ns of the last Beat; 0 before the first
}

// Beat records that the loop came round now. It is safe on a nil
// Heartbeat, which records nothing.
func (h *Heartbeat) Beat() {
	if h != nil {
		h.last.Store(time.Now().UnixNano())
	}
}

// Check fails once the loop has not come round for longer than limit.
func (h *Heartbeat) Check(limit time.Duration) Check {
	return func(context.Context) (string, error) {
		last := h.last.Load()
		if last == 0 {
			return "not started yet", nil
		}
		age := time.Since(time.Unix(0, last))
		if age > limit {
			return "", fmt.Errorf("last came round %s ago (limit %s)", age.Round(time.Millisecond), limit)
		}
		return fmt.Sprintf("came round %s ago", age.Round(time.Millisecond)), nil
	}
}

// Cached answers from c's last result for ttl, so probes in quick
// succession (several kubelets, a status command in a loop, a scripted
// curl) reach the dependency behind c at most once per ttl. Concurrent
// callers wait for the one call in flight, each until its own ctx ends.
func Cached(c Check, ttl time.Duration) Check {
	type result struct {
		at   time.Time
		note string
		err  error
	}
	var (
		sem  = make(chan struct{}, 1) // held by the caller that refreshes
		mu   sync.Mutex
		last result
	)
	fresh := func() (result, bool) {
		mu.Lock()
		defer mu.Unlock()
		return last, !last.at.IsZero() && time.Since(last.at) < ttl
	}
	return func(ctx context.Context) (string, error) {
		if r, ok := fresh(); ok {
			return r.note, r.err
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for the check in flight: %w", ctx.Err())
		}
		defer func() { <-sem }()
		// Another caller may have refreshed while this one waited.
		if r, ok := fresh(); ok {
			return r.note, r.err
		}
		note, err := c(ctx)
		mu.Lock()
		last = result{time.Now(), note, err}
		mu.Unlock()
		return note, err
	}
}
