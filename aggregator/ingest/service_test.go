package ingest

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// memLedger is an in-memory Ledger.
type memLedger struct {
	mu        sync.Mutex
	committed map[string][]*lifelinev1.SeqRange
	catalogs  map[string][]*lifelinev1.Point
	stored    map[store.SampleKey]struct{}
}

func (l *memLedger) Committed(_ context.Context, span store.Span) ([]*lifelinev1.SeqRange, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.committed[span.SiteID], nil
}

func (l *memLedger) NewestCommitted(context.Context, string, string, uint64) (uint64, error) {
	return 0, nil
}

func (l *memLedger) Existing(_ context.Context, site string, keys []store.SampleKey) (map[store.SampleKey]struct{}, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[store.SampleKey]struct{}{}
	for _, k := range keys {
		if _, ok := l.stored[k]; ok {
			out[k] = struct{}{}
		}
	}
	return out, nil
}

func (l *memLedger) SaveCatalog(_ context.Context, site, _, _ string, points []*lifelinev1.Point) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.catalogs[site] = points
	return nil
}

// heldWriter commits a batch only when the test releases it.
type heldWriter struct {
	mu      sync.Mutex
	batches []*store.Batch
	dones   []func(error)
	added   chan struct{}
}

func (w *heldWriter) Submit(_ context.Context, b *store.Batch, done func(error)) error {
	w.mu.Lock()
	w.batches = append(w.batches, b)
	w.dones = append(w.dones, done)
	w.mu.Unlock()
	w.added <- struct{}{}
	return nil
}

func (w *heldWriter) commitAll() {
	w.mu.Lock()
	dones := w.dones
	w.dones = nil
	w.mu.Unlock()
	for _, d := range dones {
		d(nil)
	}
}

type fixture struct {
	ledger *memLedger
	writer *heldWriter
	client lifelinev1.IngestClient
}

func start(t *testing.T, adjust ...func(*Options)) *fixture {
	t.Helper()
	f := &fixture{
		ledger: &memLedger{committed: map[string][]*lifelinev1.SeqRange{}, catalogs: map[string][]*lifelinev1.Point{}, stored: map[store.SampleKey]struct{}{}},
		writer: &heldWriter{added: make(chan struct{}, 100)},
	}
	logger := slog.New(slog.DiscardHandler)
	opts := DefaultOptions()
	opts.RequirePeerIdentity = false
	opts.MaxBatchSamples = 100
	for _, a := range adjust {
		a(&opts)
	}
	svc := NewService(f.ledger, f.writer, nil, opts, NewMetrics(nil), logger)
	f.client = serveLoopback(t, svc, logger, nil)
	return f
}

// serveLoopback serves svc on a free loopback port without TLS and returns
// a client of it. At cleanup the receiver shuts down, then after runs
// (stopping what feeds svc) with the same deadline.
func serveLoopback(t *testing.T, svc *Service, logger *slog.Logger, after func(ctx context.Context)) lifelinev1.IngestClient {
	t.Helper()
	cfg := DefaultServerConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.TLS.Insecure = true
	recv := NewReceiver(cfg, svc, logger)
	if err := recv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(recv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = recv.Shutdown(ctx)
		if after != nil {
			after(ctx)
		}
	})
	return lifelinev1.NewIngestClient(conn)
}

func hello(site string, points ...string) *lifelinev1.AgentMessage {
	h := &lifelinev1.Hello{SiteId: site, Park: "园区", AgentVersion: "test"}
	for _, p := range points {
		h.Points = append(h.Points, &lifelinev1.Point{Id: p, Name: "液位"})
	}
	return &lifelinev1.AgentMessage{Body: &lifelinev1.AgentMessage_Hello{Hello: h}}
}

func batch(seq uint64, samples ...*lifelinev1.Sample) *lifelinev1.AgentMessage {
	return &lifelinev1.AgentMessage{Body: &lifelinev1.AgentMessage_Batch{Batch: &lifelinev1.Batch{Seq: seq, Samples: samples}}}
}

func num(point string, ts time.Time, v float64) *lifelinev1.Sample {
	return &lifelinev1.Sample{PointId: point, SourceTimeNs: ts.UnixNano(), Value: &lifelinev1.Sample_Number{Number: v}}
}

func open(t *testing.T, f *fixture, site string, points ...string) (lifelinev1.Ingest_StreamClient, *lifelinev1.Welcome) {
	t.Helper()
	return openWith(t, f, hello(site, points...))
}

func openWith(t *testing.T, f *fixture, hello *lifelinev1.AgentMessage) (lifelinev1.Ingest_StreamClient, *lifelinev1.Welcome) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	st, err := f.client.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(hello); err != nil {
		t.Fatal(err)
	}
	msg, err := st.Recv()
	if err != nil {
		t.Fatalf("await welcome: %v", err)
	}
	if msg.GetWelcome() == nil {
		t.Fatalf("want welcome, got %v", msg)
	}
	return st, msg.GetWelcome()
}

// sendAcked sends the batch m, lets the writer commit it and returns the
// ack that follows.
func sendAcked(t *testing.T, f *fixture, st lifelinev1.Ingest_StreamClient, m *lifelinev1.AgentMessage) *lifelinev1.Ack {
	t.Helper()
	if err := st.Send(m); err != nil {
		t.Fatal(err)
	}
	<-f.writer.added
	f.writer.commitAll()
	msg, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if msg.GetAck() == nil {
		t.Fatalf("want an ack, got %v", msg)
	}
	return msg.GetAck()
}

func TestAckOnlyAfterCommit(t *testing.T) {
	f := start(t)
	f.ledger.committed["S1"] = []*lifelinev1.SeqRange{{First: 1, Last: 3}}
	h := hello("S1", "T101.LT")
	h.GetHello().OldestSeq, h.GetHello().NewestSeq = 1, 3
	st, welcome := openWith(t, f, h)
	if len(welcome.GetCommitted()) != 1 || welcome.GetCommitted()[0].GetLast() != 3 {
		t.Fatalf("welcome did not report committed batches: %v", welcome)
	}
	now := time.Now()
	if err := st.Send(batch(4, num("T101.LT", now, 1.5))); err != nil {
		t.Fatal(err)
	}
	<-f.writer.added
	// Not committed yet: no ack may arrive.
	got := make(chan *lifelinev1.Ack, 1)
	go func() {
		msg, err := st.Recv()
		if err == nil {
			got <- msg.GetAck()
		}
		close(got)
	}()
	select {
	case a := <-got:
		t.Fatalf("ack %v before commit", a)
	case <-time.After(300 * time.Millisecond):
	}
	f.writer.commitAll()
	select {
	case a := <-got:
		if a.GetSeq() != 4 {
			t.Fatalf("ack for %d, want 4", a.GetSeq())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no ack after commit")
	}
	st.CloseSend()
}

func TestRejectsBadSamplesKeepsGoodOnes(t *testing.T) {
	f := start(t)
	st, _ := open(t, f, "S1", "T101.LT", "AI.TXT")
	now := time.Now()
	samples := []*lifelinev1.Sample{
		num("T101.LT", now, 2), // good
		num("NOPE", now, 1),    // unknown point
		num("T101.LT", now.Add(time.Millisecond), math.NaN()), // NaN
		num("T101.LT", now.Add(2*time.Millisecond), math.Inf(1)),
		num("T101.LT", time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC), 1), // absurd time
		num("T101.LT", now.Add(48*time.Hour), 1),                       // future
		{PointId: "AI.TXT", SourceTimeNs: now.UnixNano(), Value: &lifelinev1.Sample_Text{Text: strings.Repeat("液", 2000)}},
		{PointId: "AI.TXT", SourceTimeNs: now.UnixNano() + 1, Value: &lifelinev1.Sample_Text{Text: "正常运行"}}, // good
	}
	ack := sendAcked(t, f, st, batch(1, samples...))
	wantReasons := map[uint32]string{1: "unknown point", 2: "not a finite number", 3: "not a finite number", 4: "outside", 5: "outside", 6: "exceeds 4096"}
	if len(ack.GetRejected()) != len(wantReasons) {
		t.Fatalf("rejected %v", ack.GetRejected())
	}
	for _, r := range ack.GetRejected() {
		if !strings.Contains(r.GetReason(), wantReasons[r.GetIndex()]) {
			t.Errorf("sample %d: reason %q, want it to mention %q", r.GetIndex(), r.GetReason(), wantReasons[r.GetIndex()])
		}
	}
	f.writer.mu.Lock()
	stored := f.writer.batches[0].Samples
	f.writer.mu.Unlock()
	if len(stored) != 2 || stored[1].GetText() != "正常运行" {
		t.Fatalf("stored %v", stored)
	}
	st.CloseSend()
}

func TestProtocolErrors(t *testing.T) {
	tests := []struct {
		name string
		msgs []*lifelinev1.AgentMessage
		code codes.Code
		want string
	}{
		{"batch before hello", []*lifelinev1.AgentMessage{batch(1)}, codes.InvalidArgument, "first message must be a hello"},
		{"bad site id", []*lifelinev1.AgentMessage{hello("bad site")}, codes.InvalidArgument, "site_id"},
		{"duplicate point", []*lifelinev1.AgentMessage{hello("S1", "A", "A")}, codes.InvalidArgument, "duplicate"},
		{"sequence goes back", []*lifelinev1.AgentMessage{hello("S1", "A"), batch(5), batch(5)}, codes.InvalidArgument, "must grow"},
		{"oversized batch", []*lifelinev1.AgentMessage{hello("S1", "A"), batch(1, make([]*lifelinev1.Sample, 101)...)}, codes.InvalidArgument, "more than the 100 allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st, err := f.client.Stream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tt.msgs {
				if m.GetBatch() != nil {
					for i := range m.GetBatch().Samples {
						m.GetBatch().Samples[i] = num("A", time.Now(), 1)
					}
				}
				if err := st.Send(m); err != nil && err != io.EOF {
					t.Fatal(err)
				}
			}
			for {
				_, err = st.Recv()
				if err != nil {
					break
				}
			}
			for len(f.writer.added) > 0 {
				<-f.writer.added
			}
			f.writer.commitAll()
			if status.Code(err) != tt.code || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %s mentioning %q", err, tt.code, tt.want)
			}
		})
	}
}

// A second stream of the same site replaces the first: the first is most
// likely a half-open link.
func TestNewStreamReplacesOld(t *testing.T) {
	f := start(t)
	old, _ := open(t, f, "S1", "A")
	fresh, _ := open(t, f, "S1", "A")
	_, err := old.Recv()
	if status.Code(err) != codes.Aborted {
		t.Fatalf("old stream ended with %v, want Aborted", err)
	}
	if ack := sendAcked(t, f, fresh, batch(1, num("A", time.Now(), 1))); ack.GetSeq() != 1 {
		t.Fatalf("fresh stream: ack %v, want seq 1", ack)
	}
	fresh.CloseSend()
}

// A reconnecting agent is told what is committed only once the batches its
// previous stream handed to the writer are done; otherwise it would resend
// a batch still being inserted and the rows would be stored twice.
func TestReconnectWaitsForPreviousStreamsBatches(t *testing.T) {
	f := start(t)
	old, _ := open(t, f, "S1", "A")
	if err := old.Send(batch(1, num("A", time.Now(), 1))); err != nil {
		t.Fatal(err)
	}
	<-f.writer.added

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fresh, err := f.client.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.Send(hello("S1", "A")); err != nil {
		t.Fatal(err)
	}
	welcome := make(chan error, 1)
	go func() {
		msg, err := fresh.Recv()
		if err == nil && msg.GetWelcome() == nil {
			err = io.ErrUnexpectedEOF
		}
		welcome <- err
	}()
	select {
	case err := <-welcome:
		t.Fatalf("welcome (%v) while the previous stream's batch was still uncommitted", err)
	case <-time.After(300 * time.Millisecond):
	}
	f.writer.commitAll()
	select {
	case err := <-welcome:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no welcome after the previous batch committed")
	}
	fresh.CloseSend()
}

// After an outage the agent sends live batches first and the backlog beside
// them: each class ascends on its own, and a repeat within one is refused.
func TestLiveAndBackfillInterleave(t *testing.T) {
	f := start(t)
	st, _ := open(t, f, "S1", "A")
	now := time.Now()
	send := func(seq uint64, backfill bool) {
		m := batch(seq, num("A", now.Add(time.Duration(seq)*time.Millisecond), 1))
		m.GetBatch().Backfill = backfill
		if err := st.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	send(100, false) // live
	send(1, true)    // oldest of the backlog
	send(101, false)
	send(2, true)
	for range 4 {
		<-f.writer.added
	}
	f.writer.commitAll()
	acked := map[uint64]bool{}
	for len(acked) < 4 {
		msg, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		acked[msg.GetAck().GetSeq()] = true
	}
	send(2, true) // a repeat of the backfill class
	if _, err := st.Recv(); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("repeated backfill seq: %v", err)
	}
}

type memStatus struct {
	mu   sync.Mutex
	rows []store.AgentStatus
	fail bool
}

func (m *memStatus) SaveAgentStatus(_ context.Context, rows []store.AgentStatus) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return io.ErrUnexpectedEOF
	}
	m.rows = append(m.rows, rows...)
	return nil
}

func TestHeartbeatsKeptUntilSaved(t *testing.T) {
	saver := &memStatus{fail: true}
	h := NewHeartbeats(saver, time.Hour, nil, slog.New(slog.DiscardHandler))
	h.Record(store.AgentStatus{SiteID: "S1", Connected: true})
	h.flush(context.Background())
	saver.mu.Lock()
	saver.fail = false
	saver.mu.Unlock()
	h.Record(store.AgentStatus{SiteID: "S1", Connected: false})
	h.flush(context.Background())
	if len(saver.rows) != 2 || !saver.rows[0].Connected || saver.rows[1].Connected {
		t.Fatalf("rows %+v", saver.rows)
	}
}

// An initial value (re-sent after a resubscribe) that is already stored is
// dropped and counted; a new initial value is kept.
func TestInitialValuesAlreadyStoredAreDropped(t *testing.T) {
	f := start(t)
	now := time.Now()
	f.ledger.stored[store.SampleKey{PointID: "A", TsNs: now.UnixNano()}] = struct{}{}
	st, _ := open(t, f, "S1", "A", "B")
	old := num("A", now, 1)
	old.Initial = true
	fresh := num("B", now, 2)
	fresh.Initial = true
	if ack := sendAcked(t, f, st, batch(1, old, fresh, num("A", now.Add(time.Second), 3))); ack.GetDuplicates() != 1 {
		t.Fatalf("ack %v, want 1 duplicate", ack)
	}
	f.writer.mu.Lock()
	got := f.writer.batches[0].Samples
	f.writer.mu.Unlock()
	if len(got) != 2 || got[0].GetPointId() != "B" {
		t.Fatalf("stored %v", got)
	}
	st.CloseSend()
}

// A value read back from an OPC UA server's history that is already
// stored (the agent's mark of what it stored lagged a kill) is dropped
// like a re-sent initial value; the others are kept.
func TestHistoryValuesAlreadyStoredAreDropped(t *testing.T) {
	f := start(t)
	now := time.Now()
	f.ledger.stored[store.SampleKey{PointID: "A", TsNs: now.UnixNano()}] = struct{}{}
	st, _ := open(t, f, "S1", "A")
	stored := num("A", now, 1)
	stored.History = true
	missed := num("A", now.Add(time.Second), 2)
	missed.History = true
	if ack := sendAcked(t, f, st, batch(1, stored, missed)); ack.GetDuplicates() != 1 {
		t.Fatalf("ack %v, want 1 duplicate", ack)
	}
	f.writer.mu.Lock()
	got := f.writer.batches[0].Samples
	f.writer.mu.Unlock()
	if len(got) != 1 || got[0].GetNumber() != 2 || !got[0].GetHistory() {
		t.Fatalf("stored %v", got)
	}
	st.CloseSend()
}

// Liveness records reach the writer with the batch; one with an absurd
// minute is left out, the batch kept.
func TestLivenessReachesTheWriter(t *testing.T) {
	f := start(t)
	st, _ := open(t, f, "S1", "A")
	m := batch(1, num("A", time.Now(), 1))
	b := m.GetBatch()
	minute := time.Now().Truncate(time.Minute).Add(-time.Minute).UnixNano()
	b.Liveness = []*lifelinev1.Liveness{{MinuteNs: minute, PointIds: []string{"B"}}, {MinuteNs: 1, PointIds: []string{"B"}}}
	sendAcked(t, f, st, m)
	f.writer.mu.Lock()
	got := f.writer.batches[0].Liveness
	f.writer.mu.Unlock()
	if len(got) != 1 || got[0].GetMinuteNs() != minute || got[0].GetPointIds()[0] != "B" {
		t.Fatalf("liveness at the writer: %v", got)
	}
	st.CloseSend()
}

func TestStreamLimit(t *testing.T) {
	f := start(t, func(o *Options) { o.MaxStreams = 1 })
	first, _ := open(t, f, "S1", "A")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	second, err := f.client.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The refusal may come before the hello is even read.
	if err := second.Send(hello("S2", "A")); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if _, err := second.Recv(); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second agent: %v, want ResourceExhausted", err)
	}
	first.CloseSend()
}

// A batch dropped from a full buffer that ClickHouse committed after all
// (its ack was lost) is not counted as lost.
func TestGapsSettledAgainstLedger(t *testing.T) {
	f := start(t)
	f.ledger.committed["S1"] = []*lifelinev1.SeqRange{{First: 3, Last: 3}}
	st, _ := open(t, f, "S1", "A")
	m := batch(10, num("A", time.Now(), 1))
	t1, t2 := time.Now().Add(-time.Hour).UnixNano(), time.Now().Add(-time.Minute).UnixNano()
	m.GetBatch().Gaps = []*lifelinev1.Gap{
		{FromNs: t1, ToNs: t2, Reason: "buffer_full", Samples: 15, Batches: []*lifelinev1.DroppedBatch{{Seq: 3, Samples: 10}, {Seq: 4, Samples: 5}}},
		{FromNs: t1, ToNs: t2, Reason: "buffer_full", Samples: 10, Batches: []*lifelinev1.DroppedBatch{{Seq: 3, Samples: 10}}},
		{FromNs: t2, ToNs: t2, Reason: "buffer_corrupt"},
	}
	if err := st.Send(m); err != nil {
		t.Fatal(err)
	}
	<-f.writer.added
	f.writer.mu.Lock()
	gaps := f.writer.batches[0].Gaps
	f.writer.mu.Unlock()
	if len(gaps) != 2 || gaps[0].GetSamples() != 5 || len(gaps[0].GetBatches()) != 1 || gaps[1].GetReason() != "buffer_corrupt" {
		t.Fatalf("gaps %v", gaps)
	}
	f.writer.commitAll()
	st.CloseSend()
}
