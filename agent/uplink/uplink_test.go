package uplink

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/lifeline-telemetry/lifeline/agent/buffer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeAggregator acks every batch it receives, except that it can report
// batches as already committed, and cut a stream after a number of batches.
// It counts batches by their number within a fresh buffer's first epoch
// (1, 2, …; see rel).
type fakeAggregator struct {
	lifelinev1.UnimplementedIngestServer

	mu          sync.Mutex
	committed   []*lifelinev1.SeqRange
	cutAfter    int // end the first stream after this many batches, unacked
	streams     int
	seen        map[uint64]int
	backfill    map[uint64]bool
	maxInFlight int
	hellos      []*lifelinev1.Hello
	order       []uint64 // batch seqs in arrival order
	statuses    int
	ackDelay    time.Duration
	// newestCommitted, if set, is sent in every Welcome (absolute).
	newestCommitted uint64
	// onlyBuffer, if set, limits committed and newestCommitted to Hellos
	// naming this buffer, as the aggregator's ledger does.
	onlyBuffer string
}

// rel returns the number of seq within a fresh buffer's first epoch.
func rel(seq uint64) uint64 { return seq - lifelinev1.LegacySeqLimit }

func abs(ranges []*lifelinev1.SeqRange) []*lifelinev1.SeqRange {
	var out []*lifelinev1.SeqRange
	for _, r := range ranges {
		out = append(out, &lifelinev1.SeqRange{First: r.GetFirst() + lifelinev1.LegacySeqLimit, Last: r.GetLast() + lifelinev1.LegacySeqLimit})
	}
	return out
}

func (f *fakeAggregator) Stream(st lifelinev1.Ingest_StreamServer) error {
	msg, err := st.Recv()
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.streams++
	stream := f.streams
	f.hellos = append(f.hellos, msg.GetHello())
	committed, newest := abs(f.committed), f.newestCommitted
	if f.onlyBuffer != "" && msg.GetHello().GetBufferId() != f.onlyBuffer {
		committed, newest = nil, 0
	}
	f.mu.Unlock()
	if err := st.Send(&lifelinev1.AggregatorMessage{Body: &lifelinev1.AggregatorMessage_Welcome{
		Welcome: &lifelinev1.Welcome{Committed: committed, MaxBatchSamples: 1000, NewestCommitted: newest}}}); err != nil {
		return err
	}
	var pending []uint64
	n := 0
	for {
		msg, err := st.Recv()
		if err != nil {
			return err
		}
		if msg.GetStatus() != nil {
			f.mu.Lock()
			f.statuses++
			f.mu.Unlock()
			continue
		}
		b := msg.GetBatch()
		n++
		time.Sleep(f.ackDelay)
		f.mu.Lock()
		f.order = append(f.order, rel(b.GetSeq()))
		f.seen[rel(b.GetSeq())]++
		f.backfill[rel(b.GetSeq())] = b.GetBackfill()
		f.mu.Unlock()
		if stream == 1 && f.cutAfter > 0 && n >= f.cutAfter {
			return status.Error(codes.Unavailable, "cut")
		}
		pending = append(pending, b.GetSeq())
		f.mu.Lock()
		f.maxInFlight = max(f.maxInFlight, len(pending))
		f.mu.Unlock()
		// Ack in pairs, so the window really holds more than one batch.
		if len(pending) >= 2 {
			for _, s := range pending {
				if err := st.Send(&lifelinev1.AggregatorMessage{Body: &lifelinev1.AggregatorMessage_Ack{Ack: &lifelinev1.Ack{Seq: s}}}); err != nil {
					return err
				}
			}
			pending = pending[:0]
		}
	}
}

func serve(t *testing.T, f lifelinev1.IngestServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	lifelinev1.RegisterIngestServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func fill(t *testing.T, q *buffer.Queue, n int) {
	t.Helper()
	for i := range n {
		data, err := proto.Marshal(&lifelinev1.Batch{Samples: []*lifelinev1.Sample{{PointId: "A", SourceTimeNs: int64(i + 1)}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.Append(data); err != nil {
			t.Fatal(err)
		}
	}
}

func openQueue(t *testing.T) *buffer.Queue {
	t.Helper()
	opts := buffer.DefaultOptions()
	q, err := buffer.Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func runUplink(t *testing.T, q *buffer.Queue, addr string, adjust ...func(*Options)) (*Uplink, func()) {
	opts := Options{
		Address:          addr,
		Credentials:      insecure.NewCredentials(),
		Hello:            &lifelinev1.Hello{SiteId: "S1", Park: "园区"},
		MaxInFlight:      4,
		ReconnectMin:     20 * time.Millisecond,
		ReconnectMax:     100 * time.Millisecond,
		Keepalive:        10 * time.Second,
		KeepaliveTimeout: 5 * time.Second,
	}
	for _, f := range adjust {
		f(&opts)
	}
	u := New(q, opts, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = u.Run(ctx); close(done) }()
	return u, func() { cancel(); <-done }
}

func waitEmpty(t *testing.T, q *buffer.Queue) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for q.Stats().Entries > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("buffer still holds %d batches", q.Stats().Entries)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDrainsBacklogAndLiveData(t *testing.T) {
	f := &fakeAggregator{seen: map[uint64]int{}, backfill: map[uint64]bool{}}
	q := openQueue(t)
	fill(t, q, 40) // written while no aggregator was reachable
	u, stop := runUplink(t, q, serve(t, f))
	waitEmpty(t, q)
	fill(t, q, 10) // live
	waitEmpty(t, q)
	stop()

	f.mu.Lock()
	defer f.mu.Unlock()
	for seq := uint64(1); seq <= 50; seq++ {
		if f.seen[seq] != 1 {
			t.Errorf("batch %d sent %d times", seq, f.seen[seq])
		}
		if want := seq <= 40; f.backfill[seq] != want {
			t.Errorf("batch %d backfill=%v, want %v", seq, f.backfill[seq], want)
		}
	}
	if f.maxInFlight > 4 {
		t.Errorf("%d batches in flight, window is 4", f.maxInFlight)
	}
	if h := f.hellos[0]; rel(h.GetOldestSeq()) != 1 || rel(h.GetNewestSeq()) != 40 || h.GetBufferId() != q.ID() {
		t.Errorf("hello announced %s %d..%d, want %s 1..40", h.GetBufferId(), rel(h.GetOldestSeq()), rel(h.GetNewestSeq()), q.ID())
	}
	if st := u.Stats(); st.AckedBatches != 50 || st.AckedSamples != 50 {
		t.Errorf("stats %+v", st)
	}
}

// Batches the aggregator reports as committed are deleted, never resent.
func TestSkipsCommittedBatches(t *testing.T) {
	f := &fakeAggregator{seen: map[uint64]int{}, backfill: map[uint64]bool{},
		committed: []*lifelinev1.SeqRange{{First: 1, Last: 5}, {First: 8, Last: 8}}}
	q := openQueue(t)
	fill(t, q, 10)
	_, stop := runUplink(t, q, serve(t, f))
	waitEmpty(t, q)
	stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	for seq := uint64(1); seq <= 10; seq++ {
		want := 1
		if seq <= 5 || seq == 8 {
			want = 0
		}
		if f.seen[seq] != want {
			t.Errorf("batch %d sent %d times, want %d", seq, f.seen[seq], want)
		}
	}
}

// A stream cut before acks arrive: the unacked batches are sent again on
// the next stream, and nothing is deleted without its ack.
func TestResendsUnackedAfterCut(t *testing.T) {
	f := &fakeAggregator{seen: map[uint64]int{}, backfill: map[uint64]bool{}, cutAfter: 3}
	q := openQueue(t)
	fill(t, q, 20)
	u, stop := runUplink(t, q, serve(t, f))
	waitEmpty(t, q)
	stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.streams < 2 {
		t.Fatalf("only %d streams", f.streams)
	}
	for seq := uint64(1); seq <= 20; seq++ {
		if f.seen[seq] < 1 {
			t.Errorf("batch %d never sent", seq)
		}
	}
	if u.Stats().Reconnects < 1 {
		t.Errorf("no reconnect counted")
	}
}

// Live data overtakes a backlog: a batch written after the link came back
// reaches the aggregator before the backlog has finished.
func TestLiveFirst(t *testing.T) {
	f := &fakeAggregator{seen: map[uint64]int{}, backfill: map[uint64]bool{}, ackDelay: 20 * time.Millisecond}
	q := openQueue(t)
	fill(t, q, 60) // the backlog of an outage
	u, stop := runUplink(t, q, serve(t, f))
	deadline := time.Now().Add(5 * time.Second)
	for !u.Stats().Connected && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	fill(t, q, 2) // seqs 61 and 62: live (the fake acks in pairs)
	waitEmpty(t, q)
	stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	pos := map[uint64]int{}
	for i, s := range f.order {
		pos[s] = i
	}
	if pos[61] >= pos[60] {
		t.Fatalf("live batch 61 arrived at %d, after the backlog's last batch (at %d): %v", pos[61], pos[60], f.order)
	}
	if f.backfill[61] || !f.backfill[60] {
		t.Fatalf("backfill flags: live=%v backlog=%v", f.backfill[61], f.backfill[60])
	}
	for i := 1; i < len(f.order); i++ {
		a, b := f.order[i-1], f.order[i]
		if a <= 60 && b <= 60 && b < a {
			t.Fatalf("backlog out of order: %d after %d", b, a)
		}
	}
}

func TestSendsStatusHeartbeats(t *testing.T) {
	f := &fakeAggregator{seen: map[uint64]int{}, backfill: map[uint64]bool{}}
	q := openQueue(t)
	_, stop := runUplink(t, q, serve(t, f), func(o *Options) {
		o.Status = func() *lifelinev1.Status { return &lifelinev1.Status{BacklogBatches: 3} }
		o.StatusInterval = 20 * time.Millisecond
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		n := f.statuses
		f.mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d heartbeats in 5 s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
}
