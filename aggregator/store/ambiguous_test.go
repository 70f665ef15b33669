package store_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// replyDropper forwards TCP to ClickHouse. Once armed, it swallows what
// the server sends after the client has sent a given number of bytes more:
// the server commits an insert, and the client never hears so.
type replyDropper struct {
	lis     net.Listener
	target  string
	sent    atomic.Int64 // client → server bytes, all connections
	muteAt  atomic.Int64 // 0: forward everything
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
	stopped bool
}

func newReplyDropper(t *testing.T, target string) *replyDropper {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &replyDropper{lis: lis, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.stop)
	return p
}

func (p *replyDropper) addr() string { return p.lis.Addr().String() }

// arm drops replies once the client has sent after more bytes.
func (p *replyDropper) arm(after int64) { p.muteAt.Store(p.sent.Load() + after) }
func (p *replyDropper) disarm()         { p.muteAt.Store(0) }

func (p *replyDropper) accept() {
	defer p.wg.Done()
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.stopped {
			p.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			buf := make([]byte, 32<<10)
			for {
				n, err := c.Read(buf)
				p.sent.Add(int64(n))
				if n > 0 {
					if _, werr := s.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			c.Close()
			s.Close()
		}()
		go func() {
			defer p.wg.Done()
			buf := make([]byte, 32<<10)
			for {
				n, err := s.Read(buf)
				if at := p.muteAt.Load(); n > 0 && (at == 0 || p.sent.Load() < at) {
					if _, werr := c.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			c.Close()
			s.Close()
		}()
	}
}

func (p *replyDropper) stop() {
	p.lis.Close()
	p.mu.Lock()
	p.stopped = true
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// ClickHouse commits an insert whose reply the client never receives (it
// sees a timeout); the retry must find the batch in the ledger and not
// store it twice, in samples or in the rollups.
func TestInsertRetryAfterLostReplyDoesNotDouble(t *testing.T) {
	addr := chtest.Addr(t)
	proxy := newReplyDropper(t, addr)
	cfg := store.DefaultConfig()
	cfg.Addr = proxy.addr()
	cfg.Database = chtest.Database(t, addr)
	cfg.ReadTimeout = 3 * time.Second
	s := store.New(cfg, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	const rows = 200_000
	b := &store.Batch{SiteID: "s1", Seq: 7, Samples: make([]*lifelinev1.Sample, rows)}
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for i := range b.Samples {
		b.Samples[i] = &lifelinev1.Sample{PointId: "P" + string(rune('A'+i%20)), SourceTimeNs: base + int64(i)*int64(time.Millisecond),
			Value: &lifelinev1.Sample_Number{Number: float64(i*7919%10007) / 3}}
	}
	proxy.arm(256 << 10) // well into the data block: the header exchange is done
	err := s.Insert(ctx, []*store.Batch{b})
	proxy.disarm()
	if err == nil {
		t.Fatal("insert succeeded although its reply was dropped")
	}
	if store.IsPermanent(err) {
		t.Fatalf("a lost reply classified permanent: %v", err)
	}
	var nerr net.Error
	t.Logf("client saw: %v (timeout: %v)", err, errors.As(err, &nerr) && nerr.Timeout() || errors.Is(err, io.EOF))

	count := func(q string) uint64 {
		t.Helper()
		var n uint64
		if err := s.Conn().QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count("SELECT count() FROM samples"); n != rows {
		t.Fatalf("the server did not commit the insert whose reply was lost (%d rows); the test proves nothing", n)
	}
	if err := s.Insert(ctx, []*store.Batch{b}); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := count("SELECT count() FROM samples"); n != rows {
		t.Fatalf("after the retry samples holds %d rows, want %d", n, rows)
	}
	if n := count("SELECT sum(inserts) FROM ingest_batches WHERE site_id = 's1' AND seq = 7"); n != 1 {
		t.Fatalf("ledger counts %d inserts of the batch, want 1", n)
	}
	if n := count("SELECT toUInt64(countMerge(samples)) FROM samples_1m"); n != rows {
		t.Fatalf("samples_1m counts %d samples, want %d", n, rows)
	}
}

// impatientConn gives up a read after patience once armed, as a short
// read timeout would; unarmed, it waits as long as the connection's own
// timeout, so opening the store on a loaded machine cannot time out.
type impatientConn struct {
	net.Conn
	armed    *atomic.Bool
	patience time.Duration
}

func (c impatientConn) SetReadDeadline(t time.Time) error {
	if c.armed.Load() && !t.IsZero() {
		t = time.Now().Add(c.patience)
	}
	return c.Conn.SetReadDeadline(t)
}

// The client gives up on an insert (a read timeout shorter than the insert
// takes) while the server is still writing it. A retry at once would find
// nothing in the ledger yet and store everything twice; the store must
// wait for the earlier insert to end first.
func TestInsertRetryWhileTimedOutInsertRunsDoesNotDouble(t *testing.T) {
	addr := chtest.Addr(t)
	cfg := store.DefaultConfig()
	cfg.Addr = addr
	cfg.Database = chtest.Database(t, addr)
	ctx := context.Background()
	s := store.New(cfg, slog.New(slog.DiscardHandler))
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var armed atomic.Bool
	impatient := store.New(cfg, slog.New(slog.DiscardHandler))
	var d net.Dialer
	if err := impatient.OpenDialled(ctx, func(ctx context.Context, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return impatientConn{Conn: c, armed: &armed, patience: 200 * time.Millisecond}, nil
	}); err != nil {
		t.Fatal(err)
	}
	defer impatient.Close()

	const rows = 1_000_000
	b := &store.Batch{SiteID: "s1", Seq: 7, Samples: make([]*lifelinev1.Sample, rows)}
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for i := range b.Samples {
		b.Samples[i] = &lifelinev1.Sample{PointId: "P" + string(rune('A'+i%20)), SourceTimeNs: base + int64(i)*int64(time.Millisecond),
			Value: &lifelinev1.Sample_Number{Number: float64(i*7919%10007) / 3}}
	}
	armed.Store(true)
	var errs []error
	for range 5 {
		err := impatient.Insert(ctx, []*store.Batch{b})
		if err == nil {
			break
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		t.Fatal("the insert finished within the read timeout; the test proves nothing")
	}
	t.Logf("%d attempts timed out, first: %v", len(errs), errs[0])
	armed.Store(false)
	if err := impatient.Insert(ctx, []*store.Batch{b}); err != nil {
		t.Fatalf("patient retry: %v", err)
	}
	waitInsertsEnded(t, ctx, s)
	var n uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM samples").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != rows {
		t.Fatalf("samples holds %d rows, want %d", n, rows)
	}
}

// waitInsertsEnded returns once the server runs no samples insert: one
// whose client gave up may still be writing, and counting before it ends
// would miss what it doubles. The test waits on the server itself, not on
// the store under test; the server is this test process's own (chtest)
// and the tests here run one at a time.
func waitInsertsEnded(t *testing.T, ctx context.Context, s *store.Store) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var running uint64
		if err := s.Conn().QueryRow(ctx, "SELECT count() FROM system.processes WHERE query LIKE 'INSERT INTO samples %'").Scan(&running); err != nil {
			t.Fatal(err)
		}
		if running == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d inserts still run on the server after a minute", running)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
