package mqtt

import (
	"context"
	"math/rand/v2"
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
