package uplink

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// scripted is an aggregator on real gRPC whose n-th stream (from 1) is
// served by its script, after the hello.
type scripted struct {
	lifelinev1.UnimplementedIngestServer
	script func(n int, st lifelinev1.Ingest_StreamServer) error

	mu     sync.Mutex
	starts []time.Time
}

func (s *scripted) Stream(st lifelinev1.Ingest_StreamServer) error {
	if _, err := st.Recv(); err != nil {
		return err
	}
	s.mu.Lock()
	s.starts = append(s.starts, time.Now())
	n := len(s.starts)
	s.mu.Unlock()
	return s.script(n, st)
}

func (s *scripted) streams() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.starts...)
}

func welcome(st lifelinev1.Ingest_StreamServer) error {
	return st.Send(&lifelinev1.AggregatorMessage{Body: &lifelinev1.AggregatorMessage_Welcome{
		Welcome: &lifelinev1.Welcome{MaxBatchSamples: 1000}}})
}

// nextBatch reads up to the next batch, skipping heartbeats.
func nextBatch(st lifelinev1.Ingest_StreamServer) (*lifelinev1.Batch, error) {
	for {
		msg, err := st.Recv()
		if err != nil {
			return nil, err
		}
		if b := msg.GetBatch(); b != nil {
			return b, nil
		}
	}
}

// answer serves a stream: each batch gets reply(batch) (nil: none).
func answer(st lifelinev1.Ingest_StreamServer, reply func(*lifelinev1.Batch) *lifelinev1.AggregatorMessage) error {
	if err := welcome(st); err != nil {
		return err
	}
	for {
		b, err := nextBatch(st)
		if err != nil {
			return err
		}
		if m := reply(b); m != nil {
			if err := st.Send(m); err != nil {
				return err
			}
		}
	}
}

func ackMsg(a *lifelinev1.Ack) *lifelinev1.AggregatorMessage {
	return &lifelinev1.AggregatorMessage{Body: &lifelinev1.AggregatorMessage_Ack{Ack: a}}
}

// A nacked batch stays in the buffer and is sent again, no sooner than the
// aggregator asked; the nack shows in the stats.
func TestNackKeepsBatchAndResendsLater(t *testing.T) {
	const after = 700 * time.Millisecond
	var nackedAt atomic.Int64
	agg := &scripted{script: func(n int, st lifelinev1.Ingest_StreamServer) error {
		return answer(st, func(b *lifelinev1.Batch) *lifelinev1.AggregatorMessage {
			if n == 1 {
				nackedAt.Store(time.Now().UnixNano())
				return &lifelinev1.AggregatorMessage{Body: &lifelinev1.AggregatorMessage_Nack{Nack: &lifelinev1.Nack{
					Seq: b.GetSeq(), Reason: "clickhouse unavailable", Retryable: true, RetryAfterMs: after.Milliseconds()}}}
			}
			return ackMsg(&lifelinev1.Ack{Seq: b.GetSeq()})
		})
	}}
	addr := serveIngest(t, agg)
	q := openQueue(t)
	fill(t, q, 1)
	u, stop := runUplink(t, q, addr)
	defer stop()
	waitEmpty(t, q)
	starts := agg.streams()
	if len(starts) < 2 {
		t.Fatalf("%d streams", len(starts))
	}
	if gap := starts[1].Sub(time.Unix(0, nackedAt.Load())); gap < after {
		t.Fatalf("resent %s after the nack, asked for %s", gap, after)
	}
	waitUntil(t, "the ack counted", 5*time.Second, func() bool { return u.Stats().AckedBatches == 1 })
	st := u.Stats()
	if st.Nacks != 1 || !strings.Contains(st.LastRefusal, "clickhouse unavailable") || st.AckedBatches != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// An ack with rows set aside deletes the batch and counts them apart from
// the acked samples.
func TestSetAsideAckCounted(t *testing.T) {
	agg := &scripted{script: func(_ int, st lifelinev1.Ingest_StreamServer) error {
		return answer(st, func(b *lifelinev1.Batch) *lifelinev1.AggregatorMessage {
			return ackMsg(&lifelinev1.Ack{Seq: b.GetSeq(), SetAside: "code: 395", SetAsideSamples: 1})
		})
	}}
	q := openQueue(t)
	fill(t, q, 3)
	u, stop := runUplink(t, q, serveIngest(t, agg))
	defer stop()
	waitEmpty(t, q)
	// The batches leave the buffer before their acks are counted.
	waitUntil(t, "three acks counted", 5*time.Second, func() bool { return u.Stats().AckedBatches == 3 })
	if st := u.Stats(); st.SetAside != 3 || st.AckedSamples != 0 || st.AckedBatches != 3 || !strings.Contains(st.LastRefusal, "395") {
		t.Fatalf("stats %+v", st)
	}
}

// An aggregator that refuses the agent outright is not hammered: one
// attempt, then a long pause.
func TestRefusedAgentWaitsLong(t *testing.T) {
	agg := &scripted{script: func(int, lifelinev1.Ingest_StreamServer) error {
		return status.Error(codes.PermissionDenied, "certificate names site X, hello says S1")
	}}
	q := openQueue(t)
	u, stop := runUplink(t, q, serveIngest(t, agg))
	time.Sleep(1500 * time.Millisecond)
	stop()
	if n := len(agg.streams()); n != 1 {
		t.Fatalf("%d attempts in 1.5 s against an aggregator refusing the agent", n)
	}
	if st := u.Stats(); !strings.Contains(st.LastRefusal, "PermissionDenied") {
		t.Fatalf("stats %+v", st)
	}
}

// ResourceExhausted with a RetryInfo delay is honoured.
func TestRetryInfoHonoured(t *testing.T) {
	const delay = 800 * time.Millisecond
	agg := &scripted{script: func(n int, st lifelinev1.Ingest_StreamServer) error {
		if n == 1 {
			s, err := status.New(codes.ResourceExhausted, "too many streams").
				WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(delay)})
			if err != nil {
				return err
			}
			return s.Err()
		}
		return answer(st, func(b *lifelinev1.Batch) *lifelinev1.AggregatorMessage {
			return ackMsg(&lifelinev1.Ack{Seq: b.GetSeq()})
		})
	}}
	q := openQueue(t)
	fill(t, q, 1)
	_, stop := runUplink(t, q, serveIngest(t, agg))
	defer stop()
	waitEmpty(t, q)
	starts := agg.streams()
	if gap := starts[1].Sub(starts[0]); gap < delay {
		t.Fatalf("second attempt %s after the first, asked for %s", gap, delay)
	}
}

func serveIngest(t *testing.T, srv lifelinev1.IngestServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	lifelinev1.RegisterIngestServer(s, srv)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}
