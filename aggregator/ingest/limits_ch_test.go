package ingest

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// wantRefused checks a stream ended with code, with a short message
// naming field.
func wantRefused(t *testing.T, err error, code codes.Code, field string) {
	t.Helper()
	msg := status.Convert(err).Message()
	if status.Code(err) != code || !strings.Contains(msg, field) || len(msg) > 1000 {
		t.Fatalf("got %v: %.300s (%d bytes), want %v naming %s", status.Code(err), msg, len(msg), code, field)
	}
}

// recvErr reads until the stream ends and returns why.
func recvErr(a *agentStream) error {
	for {
		if _, err := a.st.Recv(); err != nil {
			return err
		}
	}
}

// An agent sending oversized or absurd fields is refused with the field
// named, counted once per cause, and nothing of it is stored; a bystander
// keeps being acked with all its rows.
func TestOversizedAndAbsurdFieldsRefused(t *testing.T) {
	f := startCH(t, writer.DefaultOptions())
	logs := f.captureLogs()
	base := time.Now().Add(-time.Hour)
	bystander, _, err := f.connect(t, parkHello("S2", "P"))
	if err != nil {
		t.Fatal(err)
	}
	bystander.send(first, first+2, base)
	bystander.acks(3)

	big := strings.Repeat("v", 3<<20)
	h := parkHello("S1", "P")
	h.GetHello().AgentVersion = big
	_, _, err = f.connect(t, h)
	wantRefused(t, err, codes.InvalidArgument, "agent_version")
	h = parkHello("S1", "P")
	h.GetHello().Points[0].Description = big
	_, _, err = f.connect(t, h)
	wantRefused(t, err, codes.InvalidArgument, "points[0].description")
	if got := f.refused(t, causeInvalidHello); got != 2 {
		t.Fatalf("invalid_hello refusals %v, want 2", got)
	}

	// Per-sample and per-gap problems leave the rest of the batch stored.
	a, _, err := f.connect(t, parkHello("S1", "P"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := num("P1", now, 1)
	noValue := &lifelinev1.Sample{PointId: "P1", SourceTimeNs: now.Add(time.Millisecond).UnixNano()}
	farServer := num("P1", now.Add(2*time.Millisecond), 2)
	farServer.ServerTimeNs = math.MaxInt64
	m := batch(first, good, noValue, farServer)
	m.GetBatch().Gaps = []*lifelinev1.Gap{{FromNs: base.UnixNano(), ToNs: 0, Reason: "buffer_full"},
		{FromNs: base.UnixNano(), ToNs: base.UnixNano(), Reason: "buffer_full", Samples: 1}}
	if err := a.st.Send(m); err != nil {
		t.Fatal(err)
	}
	msg, err := a.st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	ack := msg.GetAck()
	if len(ack.GetRejected()) != 2 || !strings.Contains(ack.GetRejected()[0].GetReason(), "no value") ||
		!strings.Contains(ack.GetRejected()[1].GetReason(), "server timestamp") {
		t.Fatalf("ack %v: want the valueless and the far-future samples rejected", ack)
	}
	if got := f.metric(t, "lifeline_ingest_rejected_gaps_total"); got != 1 {
		t.Fatalf("rejected gaps %v, want 1", got)
	}
	// A batch numbered MaxUint64 ends the stream.
	if err := a.st.Send(batch(math.MaxUint64, num("P1", now, 3))); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, recvErr(a), codes.InvalidArgument, "seq 18446744073709551615")
	// So does an oversized status.
	a, _, err = f.connect(t, parkHello("S1", "P"))
	if err != nil {
		t.Fatal(err)
	}
	st := &lifelinev1.Status{Sources: []*lifelinev1.SourceStatus{{Name: big}}}
	if err := a.st.Send(&lifelinev1.AgentMessage{Body: &lifelinev1.AgentMessage_Status{Status: st}}); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, recvErr(a), codes.InvalidArgument, "sources[0].name")
	for cause, want := range map[string]float64{causeInvalidHello: 2, causeInvalidBatch: 1, causeInvalidStatus: 1} {
		if got := f.refused(t, cause); got != want {
			t.Errorf("%s refusals %v, want %v", cause, got, want)
		}
	}

	for key, want := range map[string]int{"refused agent stream " + causeInvalidHello: 2, "refused agent stream " + causeInvalidBatch: 1,
		"refused agent stream " + causeInvalidStatus: 1, "rejected samples": 1, "rejected gaps": 1} {
		if got := logs.get(key); got != want {
			t.Errorf("%d log lines %q, want %d", got, key, want)
		}
	}
	if logs.long > 2000 {
		t.Errorf("a log line of %d bytes: values must be cut short", logs.long)
	}
	bystander.send(first+3, first+5, base)
	bystander.acks(3)
	if rows, _, _ := f.counts(t, "S2"); rows != 60 {
		t.Fatalf("bystander has %d rows, want 60", rows)
	}
	var s1Rows, gaps, longest uint64
	q := "SELECT (SELECT count() FROM samples WHERE site_id = 'S1'), (SELECT count() FROM gaps WHERE site_id = 'S1' AND to_ns > 0), " +
		"(SELECT max(length(agent_version)) FROM sites)"
	if err := chtest.Conn(t, f.store.Config().Addr, f.store.Config().Database).QueryRow(context.Background(), q).Scan(&s1Rows, &gaps, &longest); err != nil {
		t.Fatal(err)
	}
	if s1Rows != 1 || gaps != 1 || longest > maxVersionLen {
		t.Fatalf("S1 rows %d, gaps %d, longest agent_version %d: want 1, 1, <= %d", s1Rows, gaps, longest, maxVersionLen)
	}
}
