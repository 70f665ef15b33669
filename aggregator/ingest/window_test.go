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

// Streams that hold little leave the budget to the busy ones: beside
// three quiet streams holding a sample each, a stream that fills its
// window with batches of 100 is granted the whole 1,000-sample budget but
// what the quiet ones hold, not an even quarter of it; once one of them
// fills its window too it counts as busy and the two split the budget.
func TestWindowQuietStreamsLeaveTheirShare(t *testing.T) {
	f := start(t, func(o *Options) { o.WindowSamples = 1000 })
	busy, _ := open(t, f, "S1", "T101.LT")
	var quiet []lifelinev1.Ingest_StreamClient
	for _, site := range []string{"S2", "S3", "S4"} {
		st, _ := open(t, f, site, "T101.LT")
		quiet = append(quiet, st)
	}
	for i, st := range quiet {
		sendCommittedN(t, f, st, 1, 1) // granted a single batch: busy until acked
		if got := sendCommittedN(t, f, st, 2, 1).GetWindowSamples(); got != 250 {
			t.Errorf("quiet stream %d granted %d samples, want the even share 250", i, got)
		}
	}
	if got := sendCommittedN(t, f, busy, 1, 100).GetWindowSamples(); got != 1000 {
		t.Errorf("busy stream beside three quiet ones granted %d samples, want 1000", got)
	}
	// A quiet stream's batch awaiting its commit is held out of the budget.
	for seq := uint64(2); seq <= 6; seq++ {
		send(t, f, busy, batchOf(seq, 100))
	}
	send(t, f, quiet[0], batchOf(3, 10))
	f.writer.commitAll()
	for _, got := range acks(t, busy, 5) {
		if got != 990 {
			t.Errorf("busy stream granted %d samples while a quiet one holds 10, want 990", got)
		}
	}
	acks(t, quiet[0], 1)
	send(t, f, quiet[1], batchOf(3, 100))
	send(t, f, quiet[1], batchOf(4, 100))
	f.writer.commitAll()
	for _, got := range acks(t, quiet[1], 2) {
		if got != 500 {
			t.Errorf("a quiet stream that filled its window granted %d, want half the budget", got)
		}
	}
	for seq := uint64(7); seq <= 11; seq++ {
		send(t, f, busy, batchOf(seq, 100))
	}
	f.writer.commitAll()
	for _, got := range acks(t, busy, 5) {
		if got != 500 {
			t.Errorf("busy stream granted %d samples beside a second busy one, want 500", got)
		}
	}
}

// A quiet stream whose acks slow down, so that it holds more and more
// small batches, stays quiet: its grant grows with what it holds.
func TestWindowQuietStreamStaysQuietWhenAcksSlowDown(t *testing.T) {
	f := start(t, func(o *Options) { o.WindowSamples = 1000 })
	busy, _ := open(t, f, "S1", "T101.LT")
	idle, _ := open(t, f, "S2", "T101.LT")
	sendCommittedN(t, f, idle, 1, 1)
	sendCommittedN(t, f, idle, 2, 1) // quiet now, granted the even share
	seq := uint64(3)
	// Up to 160 samples held: more than a quarter of the even share (500),
	// never half the grant.
	for _, held := range []int{4, 8, 16, 32, 64, 160} {
		for range held {
			send(t, f, idle, batchOf(seq, 1))
			seq++
		}
		f.writer.commitAll()
		acks(t, idle, held)
	}
	if got := sendCommittedN(t, f, busy, 1, 100).GetWindowSamples(); got != 1000 {
		t.Errorf("busy stream granted %d samples beside a quiet one, want 1000", got)
	}
}

// A stream that has sent nothing yet counts as busy, so that the first
// streams of a reconnect storm are not granted the whole budget.
func TestWindowNewStreamsCountAsBusy(t *testing.T) {
	f := start(t, func(o *Options) { o.WindowSamples = 1000 })
	st, _ := open(t, f, "S1", "T101.LT")
	for _, site := range []string{"S2", "S3", "S4"} {
		open(t, f, site, "T101.LT")
	}
	if got := sendCommittedN(t, f, st, 1, 100).GetWindowSamples(); got != 250 {
		t.Errorf("granted %d samples beside three streams yet to send, want 250", got)
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

// batchOf is batch seq of n samples of T101.LT, a millisecond apart.
func batchOf(seq uint64, n int) *lifelinev1.AgentMessage {
	now := time.Now().Add(-time.Second)
	samples := make([]*lifelinev1.Sample, n)
	for i := range samples {
		samples[i] = num("T101.LT", now.Add(time.Duration(i)*time.Millisecond), float64(i))
	}
	return batch(seq, samples...)
}

// send sends msg and waits until the writer has it.
func send(t *testing.T, f *fixture, st lifelinev1.Ingest_StreamClient, msg *lifelinev1.AgentMessage) {
	t.Helper()
	if err := st.Send(msg); err != nil {
		t.Fatal(err)
	}
	<-f.writer.added
}

// acks receives n acks and returns the windows they grant.
func acks(t *testing.T, st lifelinev1.Ingest_StreamClient, n int) []uint32 {
	t.Helper()
	var out []uint32
	for range n {
		msg, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, msg.GetAck().GetWindowSamples())
	}
	return out
}

// sendCommittedN is sendCommitted with a batch of n samples.
func sendCommittedN(t *testing.T, f *fixture, st lifelinev1.Ingest_StreamClient, seq uint64, n int) *lifelinev1.Ack {
	t.Helper()
	return sendAcked(t, f, st, batchOf(seq, n))
}
