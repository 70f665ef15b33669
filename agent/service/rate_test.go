package service

import (
	"testing"
	"time"
)

// The drain rate follows the acks: steady acks give their rate, and once
// acks stop the rate (and so the ETA) is 0 within 5 s, not a value
// fading over the half-minute window.
func TestDrainRateStopsWithTheAcks(t *testing.T) {
	m := newRateMeter()
	t0 := time.Unix(1_700_000_000, 0)
	var total uint64
	for s := range 11 { // 100 samples/s for 10 s
		total = uint64(100 * s)
		if r := m.rate(t0.Add(time.Duration(s)*time.Second), total); s >= 2 && (r < 99 || r > 101) {
			t.Fatalf("at %ds: rate %.1f, want 100", s, r)
		}
	}
	for s := 11; s <= 40; s++ { // acks flat
		r := m.rate(t0.Add(time.Duration(s)*time.Second), total)
		if s-10 >= 5 && r != 0 {
			t.Fatalf("%ds after the last ack: rate %.1f, want 0", s-10, r)
		}
	}
	// Acks resume: the rate is back at once.
	if r := m.rate(t0.Add(41*time.Second), total+100); r <= 0 {
		t.Fatalf("acks resumed, rate %.1f", r)
	}
}
