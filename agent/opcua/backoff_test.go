package opcua

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	b := newBackoff(100*time.Millisecond, time.Second)
	prevCeil := 100 * time.Millisecond
	for i := range 20 {
		d := b.Delay()
		if d < 100*time.Millisecond || d > time.Second {
			t.Fatalf("delay %d = %s, outside [100ms, 1s]", i, d)
		}
		if d > prevCeil {
			t.Fatalf("delay %d = %s, above this step's ceiling %s", i, d, prevCeil)
		}
		prevCeil = min(2*prevCeil, time.Second)
	}
	b.Reset()
	if d := b.Delay(); d != 100*time.Millisecond {
		t.Fatalf("first delay after Reset = %s, want 100ms", d)
	}
}

func TestSubscriptionParams(t *testing.T) {
	tests := []struct {
		publishing   time.Duration
		wantCount    uint32
		wantWatchdog time.Duration
	}{
		{50 * time.Millisecond, 40, 6 * time.Second},
		{100 * time.Millisecond, 20, 6 * time.Second},
		{500 * time.Millisecond, 10, 15 * time.Second},
		{time.Second, 5, 15 * time.Second},
		{10 * time.Second, 1, 30 * time.Second},
	}
	for _, tt := range tests {
		p := newSubscriptionParams(tt.publishing)
		wd := watchdogFor(p.publishingInterval, p.keepAliveCount)
		if p.keepAliveCount != tt.wantCount || wd != tt.wantWatchdog {
			t.Errorf("publishing %s: keep-alive count %d, watchdog %s; want %d, %s", tt.publishing, p.keepAliveCount, wd, tt.wantCount, tt.wantWatchdog)
		}
		if p.requestTimeout() <= wd {
			t.Errorf("publishing %s: request timeout %s not above watchdog %s", tt.publishing, p.requestTimeout(), wd)
		}
		if p.lifetimeCount < 3*p.keepAliveCount {
			t.Errorf("publishing %s: lifetime count %d < 3 × keep-alive count %d", tt.publishing, p.lifetimeCount, p.keepAliveCount)
		}
	}
}
