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

func TestPacer(t *testing.T) {
	lo, hi := time.Second, 8*time.Second
	p := &pacer{lo: lo, hi: hi}
	now := time.Unix(1_700_000_000, 0)
	if d := p.next(now); d != 0 {
		t.Fatalf("first attempt waits %v", d)
	}
	near := func(d, want time.Duration) bool { return d <= want && d >= want*3/4 }
	// Refused attempts: 1 s, 2 s, 4 s.
	for _, want := range []time.Duration{lo, 2 * lo, 4 * lo} {
		if d := p.next(now); !near(d, want) {
			t.Fatalf("after a failure wait %v, want about %v", d, want)
		}
	}
	// Connected, dropped at once: the backoff keeps growing.
	p.up(now)
	if d := p.next(now.Add(100 * time.Millisecond)); !near(d, hi) {
		t.Fatalf("after a connection dropped at once wait %v, want about %v", d, hi)
	}
	// Connected for longer than hi: it starts over.
	p.up(now)
	if d := p.next(now.Add(hi)); !near(d, lo) {
		t.Fatalf("after a long connection wait %v, want about %v", d, lo)
	}
}
