package ingest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// chFixture is the ingest path for real: gRPC on loopback, the writer and
// a ClickHouse store.
type chFixture struct {
	store  *store.Store
	svc    *Service
	reg    *prometheus.Registry
	client lifelinev1.IngestClient
}

// metric returns the value of a counter or gauge of the service.
func (f *chFixture) metric(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func startCH(t *testing.T, wopts writer.Options, adjust ...func(*Options)) *chFixture {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	addr := chtest.Addr(t)
	cfg := store.DefaultConfig()
	cfg.Addr = addr
	cfg.Database = chtest.Database(t, addr)
	st := store.New(cfg, logger)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.Open(ctx); err != nil {
		t.Fatalf("open store: %v", err)
	}
	w := writer.New(st, wopts, logger)
	wctx, stopWriter := context.WithCancel(context.Background())
	wdone := make(chan error, 1)
	go func() { wdone <- w.Run(wctx) }()

	opts := DefaultOptions()
	opts.RequirePeerIdentity = false
	for _, a := range adjust {
		a(&opts)
	}
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	svc := NewService(st, w, nil, opts, m, logger)
	client := serveLoopback(t, svc, logger, func(ctx context.Context) {
		_ = w.Drain(ctx)
		stopWriter()
		<-wdone
		_ = st.Close()
	})
	return &chFixture{store: st, svc: svc, reg: reg, client: client}
}

// agentStream is one agent connection as the test drives it.
type agentStream struct {
	t      *testing.T
	st     lifelinev1.Ingest_StreamClient
	cancel context.CancelFunc
}

func helloFor(site, buffer string, oldest, newest uint64) *lifelinev1.AgentMessage {
	m := hello(site, "P1")
	h := m.GetHello()
	h.BufferId, h.OldestSeq, h.NewestSeq = buffer, oldest, newest
	return m
}

// connect sends hello and returns the stream with the Welcome, or the
// status the aggregator refused it with.
func (f *chFixture) connect(t *testing.T, hello *lifelinev1.AgentMessage) (*agentStream, *lifelinev1.Welcome, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	st, err := f.client.Stream(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	// io.EOF from Send means the server already ended the stream (a
	// refusal can come before the hello is read); Recv returns its status.
	if err := st.Send(hello); err != nil && !errors.Is(err, io.EOF) {
		cancel()
		t.Fatal(err)
	}
	msg, err := st.Recv()
	if err != nil {
		cancel()
		return nil, nil, err
	}
	t.Cleanup(cancel)
	return &agentStream{t: t, st: st, cancel: cancel}, msg.GetWelcome(), nil
}

// batches sends batches first..last of 10 samples each, at distinct
// source times per seq (base keeps agents' samples apart).
func (a *agentStream) send(first, last uint64, base time.Time) {
	a.t.Helper()
	for seq := first; seq <= last; seq++ {
		var smp []*lifelinev1.Sample
		for i := range 10 {
			ts := base.Add(time.Duration(seq-first)*time.Second + time.Duration(i)*time.Millisecond)
			smp = append(smp, num("P1", ts, float64(i)))
		}
		if err := a.st.Send(batch(seq, smp...)); err != nil {
			a.t.Fatalf("send %d: %v", seq, err)
		}
	}
}

// acks reads acks until n arrived.
func (a *agentStream) acks(n int) map[uint64]bool {
	a.t.Helper()
	got := map[uint64]bool{}
	for len(got) < n {
		msg, err := a.st.Recv()
		if err != nil {
			a.t.Fatalf("after %d acks: %v", len(got), err)
		}
		if ack := msg.GetAck(); ack != nil {
			got[ack.GetSeq()] = true
		}
	}
	return got
}

func (f *chFixture) counts(t *testing.T, site string) (rows, final, rollup uint64) {
	t.Helper()
	q := "SELECT (SELECT count() FROM samples WHERE site_id = ?), (SELECT count() FROM samples FINAL WHERE site_id = ?), " +
		"(SELECT countMerge(samples) FROM samples_1m WHERE site_id = ?)"
	if err := chtest.Conn(t, f.store.Config().Addr, f.store.Config().Database).QueryRow(context.Background(), q, site, site, site).Scan(&rows, &final, &rollup); err != nil {
		t.Fatal(err)
	}
	return rows, final, rollup
}

const first = lifelinev1.LegacySeqLimit | 1 // a fresh buffer's first seq

// A wiped (or new, or quarantined) buffer numbers its batches from the
// start again. The ledger must not take them for the old buffer's: every
// new sample is stored, once.
func TestWipedBufferNotMistakenForOld(t *testing.T) {
	f := startCH(t, writer.Options{MaxDelay: 50 * time.Millisecond})
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)

	a, w, err := f.connect(t, helloFor("S1", "aaaa", 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(w.GetCommitted()) != 0 {
		t.Fatalf("fresh buffer welcome: %v", w)
	}
	a.send(first, first+99, t0)
	a.acks(100)
	a.cancel()

	// The PC is replaced: a new buffer with the same numbers, new data.
	var b *agentStream
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, w, err = f.connect(t, helloFor("S1", "bbbb", first, first+49))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // the old stream's end is still being noticed
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(w.GetCommitted()) != 0 || w.GetNewestCommitted() != 0 {
		t.Fatalf("new buffer's welcome lists the old buffer's batches: %v", w)
	}
	b.send(first, first+49, t0.Add(time.Hour))
	b.acks(50)
	rows, final, rollup := f.counts(t, "S1")
	if rows != 1500 || final != 1500 || rollup != 1500 {
		t.Fatalf("count() %d, FINAL %d, samples_1m %d; want 1500 each", rows, final, rollup)
	}
	// The old buffer's reconnect still sees its own batches.
	c, w, err := f.connect(t, helloFor("S1", "aaaa", first, first+99))
	if err == nil {
		defer c.cancel()
	}
	if err == nil && (len(w.GetCommitted()) != 1 || w.GetCommitted()[0].GetLast() != first+99) {
		t.Fatalf("old buffer's welcome: %v", w)
	}
}

// A buffer behind what it once sent (restored, or cut by a power loss) is
// told the newest batch the ledger holds, and the aggregator counts it.
func TestWelcomeNamesNewestCommitted(t *testing.T) {
	f := startCH(t, writer.Options{MaxDelay: 50 * time.Millisecond})
	a, _, err := f.connect(t, helloFor("S1", "aaaa", 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	a.send(first, first+9, time.Now().Add(-time.Hour))
	a.acks(10)
	a.cancel()
	time.Sleep(100 * time.Millisecond)
	_, w, err := f.connect(t, helloFor("S1", "aaaa", first, first+4))
	if err != nil {
		t.Fatal(err)
	}
	if w.GetNewestCommitted() != first+9 || len(w.GetCommitted()) != 1 || w.GetCommitted()[0].GetLast() != first+4 {
		t.Fatalf("welcome %v, want committed up to %d and newest %d", w, first+4, first+9)
	}
	if n := f.metric(t, "lifeline_ingest_buffer_behind_ledger_total"); n != 1 {
		t.Fatalf("buffer_behind_ledger = %v, want 1", n)
	}
}

// A second agent for a live site is refused with a clear status; the same
// agent reconnecting (same buffer, holding all it sent) takes over at once,
// and any agent takes over a stream silent for the live window.
func TestSecondLiveAgentRefused(t *testing.T) {
	f := startCH(t, writer.Options{MaxDelay: 50 * time.Millisecond}, func(o *Options) { o.LiveWindow = time.Second })
	t0 := time.Now().Add(-time.Hour)
	a, _, err := f.connect(t, helloFor("S1", "aaaa", 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	a.send(first, first+1, t0)
	a.acks(2)

	_, _, err = f.connect(t, helloFor("S1", "bbbb", 0, 0))
	if status.Code(err) != codes.AlreadyExists {
		t.Fatalf("second agent: %v, want AlreadyExists", err)
	}
	t.Logf("refusal: %v", err)
	if n := f.metric(t, "lifeline_ingest_site_in_use_refusals_total"); n != 1 {
		t.Fatalf("site_in_use refusals = %v", n)
	}
	// A clone of the buffer that lacks what the live stream received.
	if _, _, err := f.connect(t, helloFor("S1", "aaaa", first, first)); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("clone behind the live stream: %v, want AlreadyExists", err)
	}

	// The same agent, its old link half-open: takes over at once.
	a2, w, err := f.connect(t, helloFor("S1", "aaaa", first, first+1))
	if err != nil {
		t.Fatalf("reconnect of the same agent: %v", err)
	}
	if len(w.GetCommitted()) != 1 || w.GetCommitted()[0].GetLast() != first+1 {
		t.Fatalf("reconnect welcome %v", w)
	}
	// The replaced stream is told so.
	if _, err := a.st.Recv(); status.Code(err) != codes.Aborted && !errors.Is(err, context.Canceled) {
		t.Logf("replaced stream ended with %v", err)
	}

	// Silent past the live window: another buffer takes over.
	time.Sleep(1200 * time.Millisecond)
	if _, _, err := f.connect(t, helloFor("S1", "cccc", 0, 0)); err != nil {
		t.Fatalf("takeover after silence: %v", err)
	}
	a2.cancel()
}

// A reconnect while the writer still holds the old streams' batches: the
// old stream delivered 100 batches still waiting in the writer, a second
// stream gave up during its handshake, and a third resends whatever its
// Welcome does not list. Every batch is stored once and counted once.
func TestReconnectMidInsertStoresOnce(t *testing.T) {
	f := startCH(t, writer.Options{MaxDelay: 2 * time.Second, MaxRows: 1 << 20})
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	a, _, err := f.connect(t, helloFor("S1", "aaaa", 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	a.send(first, first+99, t0)
	waitUntil(t, func() bool { return f.metric(t, "lifeline_ingest_batches_total") == 100 })

	// The agent gives up on a and opens b, which waits for a's batches;
	// it gives up on b too before the Welcome arrives.
	ctx, cancel := context.WithCancel(context.Background())
	bst, err := f.client.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := bst.Send(helloFor("S1", "aaaa", first, first+99)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	time.Sleep(100 * time.Millisecond)

	// c resends what its Welcome does not list as committed.
	c, w, err := f.connect(t, helloFor("S1", "aaaa", first, first+99))
	if err != nil {
		t.Fatal(err)
	}
	done := map[uint64]bool{}
	for _, r := range w.GetCommitted() {
		for s := r.GetFirst(); s <= r.GetLast(); s++ {
			done[s] = true
		}
	}
	var resent int
	for seq := first; seq <= first+99; seq++ {
		if !done[seq] {
			c.send(seq, seq, t0.Add(time.Duration(seq-first)*time.Second))
			resent++
		}
	}
	if resent != 0 {
		t.Errorf("the Welcome did not wait for the old streams' batches: %d of 100 reported missing", resent)
	}
	c.acks(resent)
	waitUntil(t, func() bool { r, _, _ := f.counts(t, "S1"); return r >= 1000 })
	time.Sleep(300 * time.Millisecond)
	rows, final, rollup := f.counts(t, "S1")
	t.Logf("resent %d; count() %d, FINAL %d, samples_1m %d", resent, rows, final, rollup)
	if rows != 1000 || final != 1000 || rollup != 1000 {
		t.Fatalf("count() %d, FINAL %d, samples_1m %d; want 1000 each", rows, final, rollup)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
