package uplink

import (
	"context"
	"sync"
)

// credit bounds the samples one window (live or backlog) has sent and not
// had acked to the aggregator's grant (Welcome and Ack window_samples), so
// that under load batches wait in this buffer rather than in the
// aggregator's queue, where each one would wait behind every agent's
// window. A batch always fits when nothing is out, whatever its size. A
// grant of 0 bounds nothing: older aggregators send none.
type credit struct {
	mu      sync.Mutex
	grant   int
	used    int
	starved bool          // the last tryTake did not fit
	changed chan struct{} // closed and replaced when used shrinks or grant changes
}

func newCredit(grant int) *credit {
	return &credit{grant: grant, changed: make(chan struct{})}
}

func (c *credit) fitsLocked(n int) bool {
	return c.grant <= 0 || c.used == 0 || c.used+n <= c.grant
}

// take reserves n samples, waiting until they fit or ctx ends.
func (c *credit) take(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		if c.fitsLocked(n) {
			c.used += n
			c.mu.Unlock()
			return nil
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// tryTake reserves n samples if they fit now.
func (c *credit) tryTake(n int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.fitsLocked(n) {
		c.starved = true
		return false
	}
	c.used += n
	return true
}

// full reports whether the last tryTake found no room and nothing has been
// freed or granted since.
func (c *credit) full() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.starved
}

// give returns n samples acked.
func (c *credit) give(n int) {
	c.mu.Lock()
	c.used = max(c.used-n, 0)
	c.wakeLocked()
	c.mu.Unlock()
}

// setGrant takes a new grant; 0 keeps the current one (an Ack without it).
func (c *credit) setGrant(g int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g <= 0 || g == c.grant {
		return
	}
	c.grant = g
	c.wakeLocked()
}

func (c *credit) wakeLocked() {
	c.starved = false
	close(c.changed)
	c.changed = make(chan struct{})
}
