package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// A batch ClickHouse refuses for good is answered with an ack naming the
// rows set aside (the agent may delete it), beside the plain acks of the
// same site's and another site's batches.
func TestRefusedBatchAckedWithSetAside(t *testing.T) {
	f := startStored(t, writer.Options{MaxDelay: 50 * time.Millisecond})
	f.exec(t, "ALTER TABLE samples ADD COLUMN guard UInt8 MATERIALIZED throwIf(value = -999.25)")
	a := f.open(t, "S1", "T101.LT")
	b := f.open(t, "S2", "T101.LT")
	now := time.Now().Add(-time.Minute)
	bad := batch(1)
	for i := range 10 {
		v := float64(i)
		if i == 4 {
			v = -999.25
		}
		bad.GetBatch().Samples = append(bad.GetBatch().Samples, num("T101.LT", now.Add(time.Duration(i)*time.Second), v))
	}
	for _, send := range []struct {
		st  lifelinev1.Ingest_StreamClient
		msg *lifelinev1.AgentMessage
	}{{a, bad}, {a, batch(2, num("T101.LT", now.Add(time.Hour/2), 1))}, {b, batch(1, num("T101.LT", now, 2))}} {
		if err := send.st.Send(send.msg); err != nil {
			t.Fatal(err)
		}
	}
	ra, rb := replies(a), replies(b)
	got := map[string]*lifelinev1.Ack{}
	deadline := time.After(30 * time.Second)
	for len(got) < 3 {
		select {
		case m := <-ra:
			got[fmt.Sprintf("S1/%d", m.GetAck().GetSeq())] = m.GetAck()
		case m := <-rb:
			got[fmt.Sprintf("S2/%d", m.GetAck().GetSeq())] = m.GetAck()
		case <-deadline:
			t.Fatalf("after 30 s got acks for %v only: the refused batch is never answered", keys(got))
		}
	}
	if ack := got["S1/1"]; ack == nil || ack.GetSetAside() == "" || ack.GetSetAsideSamples() != 1 {
		t.Fatalf("S1/1: %v, want an ack with 1 sample set aside", ack)
	}
	for _, k := range []string{"S1/2", "S2/1"} {
		if ack := got[k]; ack == nil || ack.GetSetAside() != "" {
			t.Fatalf("%s: %v", k, ack)
		}
	}
}

// A batch the writer cannot commit now (the samples table is gone for a
// while) is nacked as retryable with a delay, instead of never answered.
func TestUncommittedBatchNacked(t *testing.T) {
	f := startStored(t, writer.Options{MaxDelay: 20 * time.Millisecond, RetryBackoff: 50 * time.Millisecond,
		MaxRetryBackoff: 200 * time.Millisecond, GiveUpAfter: time.Second})
	f.exec(t, "RENAME TABLE samples TO samples_away")
	st := f.open(t, "S1", "T101.LT")
	if err := st.Send(batch(1, num("T101.LT", time.Now().Add(-time.Minute), 1))); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-replies(st):
		n := m.GetNack()
		if n == nil || n.GetSeq() != 1 || !n.GetRetryable() || n.GetRetryAfterMs() < 1000 || n.GetReason() == "" {
			t.Fatalf("got %v, want a retryable nack for batch 1", m)
		}
		t.Logf("nack: %s (retry after %d ms)", n.GetReason(), n.GetRetryAfterMs())
	case <-time.After(20 * time.Second):
		t.Fatal("no answer for a batch that cannot be committed")
	}
	f.exec(t, "RENAME TABLE samples_away TO samples")
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
