package opcua

import (
	"testing"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// A subscription one of several may stay silent for its lifetime, never
// less than the watchdog; its session as a whole for the watchdog.
func TestSilenceIsTheLifetime(t *testing.T) {
	for _, tt := range []struct {
		publishing time.Duration
		want       time.Duration
	}{
		{50 * time.Millisecond, 20 * time.Second},  // keep-alive 40, lifetime 400
		{500 * time.Millisecond, 50 * time.Second}, // keep-alive 10, lifetime 100
		{10 * time.Second, 100 * time.Second},      // keep-alive 1, lifetime 10; the watchdog is 30 s
	} {
		p := newSubscriptionParams(tt.publishing)
		got := silenceFor(p.publishingInterval, p.keepAliveCount, p.lifetimeCount)
		if got != tt.want {
			t.Errorf("publishing %s: silence %s, want %s", tt.publishing, got, tt.want)
		}
		if wd := watchdogFor(p.publishingInterval, p.keepAliveCount); got < wd || p.requestTimeout() <= got+wd-time.Second {
			t.Errorf("publishing %s: silence %s, watchdog %s, request timeout %s", tt.publishing, got, wd, p.requestTimeout())
		}
	}
	if got := silenceFor(time.Second, 5, 1); got != 15*time.Second {
		t.Errorf("a lifetime shorter than the watchdog: silence %s, want the watchdog 15s", got)
	}
}

// Time the reader spends not asking (its sink holding it) moves every
// subscription's and the session's last answer on.
func TestExcuseMovesTheSilenceOn(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := &subscriptions{heard: t0, subs: []*subscription{{last: t0}, {last: t0.Add(time.Second)}}}
	s.excuse(3 * time.Second)
	if !s.heard.Equal(t0.Add(3*time.Second)) || !s.subs[0].last.Equal(t0.Add(3*time.Second)) || !s.subs[1].last.Equal(t0.Add(4*time.Second)) {
		t.Errorf("after excuse: heard %s, last %s %s", s.heard, s.subs[0].last, s.subs[1].last)
	}
}

// A subscription that delivers data after a change was seen on the
// server is late (working through its queues), not silent; one that
// delivers nothing since is silent.
func TestLateIsNotSilent(t *testing.T) {
	seen := time.Unix(1000, 0)
	change := pendingChange{sourceNs: seen.Add(-time.Second).UnixNano(), seen: seen}
	sample := func(src time.Time) []*lifelinev1.Sample {
		return []*lifelinev1.Sample{{SourceTimeNs: src.UnixNano()}}
	}
	for _, tt := range []struct {
		name     string
		received time.Time
		batch    []*lifelinev1.Sample
		want     bool
	}{
		{"nothing delivered since", seen.Add(-time.Second), sample(seen.Add(-5 * time.Second)), false},
		{"data delivered since", seen.Add(time.Second), sample(seen.Add(-5 * time.Second)), true},
		{"keep-alives only since", seen.Add(time.Second), nil, false},
	} {
		var p progress
		p.note(tt.received, tt.batch)
		if got := p.late(change); got != tt.want {
			t.Errorf("%s: late = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// Lateness excuses a backlog, not an item that stays behind for good while
// its subscription delivers the others.
func TestLateHasALimit(t *testing.T) {
	grace := 250 * time.Millisecond
	for _, tt := range []struct {
		waited time.Duration
		late   bool
		want   bool
	}{
		{200 * time.Millisecond, false, false},
		{time.Second, false, true},
		{time.Second, true, false},
		{29 * time.Second, true, false},
		{31 * time.Second, true, true},
	} {
		if got := silent(tt.waited, grace, tt.late); got != tt.want {
			t.Errorf("waited %s, late %v: silent = %v, want %v", tt.waited, tt.late, got, tt.want)
		}
	}
	if silent(79*time.Second, 4*time.Second, true) || !silent(81*time.Second, 4*time.Second, true) {
		t.Errorf("a 4 s grace gives a late subscription 80 s")
	}
}
