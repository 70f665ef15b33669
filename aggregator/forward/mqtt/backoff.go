package mqtt

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// backoff is the wait before retry n (from 0): doubling from lo, capped at hi,
// with up to a quarter taken off at random so that many targets do not
// reconnect in step.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 0; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d - time.Duration(rand.Int64N(int64(d)/4+1))
}

// pacer spaces connection attempts. A connection that the broker drops at
// once (a message it refuses, a client ID taken over) counts as a failed
// attempt, so the wait keeps growing instead of hammering the broker; only
// one that lived at least hi starts the backoff over.
type pacer struct {
	lo, hi time.Duration

	mu      sync.Mutex
	started bool
	fails   int
	upAt    time.Time // zero while no connection is up
}

// up records a connection made at now.
func (p *pacer) up(now time.Time) {
	p.mu.Lock()
	p.upAt = now
	p.mu.Unlock()
}

// next is the wait before the next attempt at now: none before the first.
func (p *pacer) next(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.started {
		p.started = true
		return 0
	}
	if !p.upAt.IsZero() && now.Sub(p.upAt) >= p.hi {
		p.fails = 0
	}
	p.upAt = time.Time{}
	d := backoff(p.fails, p.lo, p.hi)
	p.fails++
	return d
}

// sleep waits for d or until ctx is done; false when ctx ended it.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
