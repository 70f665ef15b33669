package ingest

import (
	"testing"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// The Welcome grants a single batch; every Ack then grants the stream an
// equal share of the budget: two streams of a 1,000-sample budget get 500
// each, and a third stream shrinks the share the next ack carries.
func TestWindowSharedAmongStreams(t *testing.T) {
	f := start(t, func(o *Options) { o.WindowSamples = 1000 })
	st1, w1 := open(t, f, "S1", "T101.LT")
	if got := w1.GetWindowSamples(); got != 1 {
		t.Errorf("welcome granted %d samples, want 1 (a single batch until the first ack)", got)
	}
	st2, _ := open(t, f, "S2", "T101.LT")
	ackGrant := func(st lifelinev1.Ingest_StreamClient, seq uint64) uint32 {
		t.Helper()
		return sendCommitted(t, f, st, seq).GetWindowSamples()
	}
	if got := ackGrant(st1, 1); got != 500 {
		t.Errorf("ack granted %d samples with two streams open, want 500", got)
	}
	open(t, f, "S3", "T101.LT")
	if got := ackGrant(st2, 1); got != 333 {
		t.Errorf("ack granted %d samples with three streams open, want 333", got)
	}
}

// Without a budget nothing is granted: agents keep their own window.
func TestWindowWithoutBudget(t *testing.T) {
	f := start(t)
	st, w := open(t, f, "S1", "T101.LT")
	if got := w.GetWindowSamples(); got != 0 {
		t.Errorf("granted %d samples without a budget", got)
	}
	if got := sendCommitted(t, f, st, 1).GetWindowSamples(); got != 0 {
		t.Errorf("ack granted %d samples without a budget", got)
	}
}

// The window is the agent's to honour: an older agent that sends beyond
// it still has every batch taken and acked, as before.
func TestWindowIgnoredByOlderAgent(t *testing.T) {
	f := start(t, func(o *Options) { o.WindowSamples = 1 })
	st, w := open(t, f, "S1", "T101.LT")
	if w.GetWindowSamples() != 1 {
		t.Fatalf("granted %d samples, want 1", w.GetWindowSamples())
	}
	now := time.Now()
	for seq := uint64(1); seq <= 5; seq++ {
		if err := st.Send(batch(seq, num("T101.LT", now.Add(time.Duration(seq)*time.Millisecond), 1))); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		<-f.writer.added
	}
	f.writer.commitAll()
	for want := uint64(1); want <= 5; want++ {
		msg, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if got := msg.GetAck().GetSeq(); got != want {
			t.Fatalf("ack for %d, want %d", got, want)
		}
	}
}

// sendCommitted sends batch seq of one sample, lets the writer commit it and
// returns its ack.
func sendCommitted(t *testing.T, f *fixture, st lifelinev1.Ingest_StreamClient, seq uint64) *lifelinev1.Ack {
	t.Helper()
	return sendAcked(t, f, st, batch(seq, num("T101.LT", time.Now(), 1)))
}
