package mqtt

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, 2*time.Second
	for n, want := range []time.Duration{100, 200, 400, 800, 1600, 2000, 2000} {
		want *= time.Millisecond
		for range 50 {
			d := backoff(n, lo, hi)
			if d > want || d < want*3/4 {
				t.Fatalf("backoff(%d) = %v, want %v less up to a quarter", n, d, want)
			}
		}
	}
	if d := backoff(1000, lo, hi); d > hi {
		t.Fatalf("backoff(1000) = %v above the cap", d)
	}
}
