package opcua

import (
	"math/rand/v2"
	"time"
)

// backoff yields jittered, exponentially growing delays between min and
// max: each delay is drawn uniformly from [d/2, d] where d doubles from min
// up to max.
type backoff struct {
	min, max time.Duration
	next     time.Duration
}

func newBackoff(min, max time.Duration) *backoff {
	if min <= 0 {
		min = time.Second
	}
	if max < min {
		max = min
	}
	return &backoff{min: min, max: max, next: min}
}

// Delay returns the next delay and advances the sequence.
func (b *backoff) Delay() time.Duration {
	d := b.next
	b.next = min(2*b.next, b.max)
	half := d / 2
	j := half + rand.N(d-half+1)
	return max(j, b.min)
}

// Reset starts the sequence again from min.
func (b *backoff) Reset() { b.next = b.min }
