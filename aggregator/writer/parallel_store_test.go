package writer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
)

// overlapping counts the inserts running at once against the real store,
// and calls onBoth (once) when two overlap after the fourth insert began,
// while inserts run and earlier ones have committed.
type overlapping struct {
	s       *store.Store
	mu      sync.Mutex
	now     int
	most    int
	started int
	onBoth  func()
}

func (o *overlapping) Insert(ctx context.Context, batches []*store.Batch) error {
	o.mu.Lock()
	o.now++
	o.most = max(o.most, o.now)
	o.started++
	if o.now == 2 && o.started > 4 && o.onBoth != nil {
		time.AfterFunc(10*time.Millisecond, o.onBoth)
		o.onBoth = nil
	}
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.now--
		o.mu.Unlock()
	}()
	return o.s.Insert(ctx, batches)
}

func (o *overlapping) max() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.most
}

// siteOrder records, per site, the sequence numbers acked in the order
// their done callbacks ran.
type siteOrder struct {
	mu    sync.Mutex
	acked map[string][]uint64
	fails int
}

func (o *siteOrder) done(b *store.Batch, wg *sync.WaitGroup) func(error) {
	return func(err error) {
		defer wg.Done()
		o.mu.Lock()
		defer o.mu.Unlock()
		if err != nil {
			o.fails++
			return
		}
		o.acked[b.SiteID] = append(o.acked[b.SiteID], b.Seq)
	}
}

// submitAll submits every batch, a goroutine per site in sequence order,
// and waits for all done callbacks.
func submitAll(t *testing.T, ctx context.Context, w *writer.Writer, sites [][]*store.Batch, o *siteOrder) {
	t.Helper()
	var wg sync.WaitGroup
	var submitters sync.WaitGroup
	for _, batches := range sites {
		submitters.Go(func() {
			for _, b := range batches {
				wg.Add(1)
				if err := w.Submit(ctx, b, o.done(b, &wg)); err != nil {
					wg.Done()
					if !errors.Is(err, writer.ErrStopped) && ctx.Err() == nil {
						t.Error(err)
					}
				}
			}
		})
	}
	submitters.Wait()
	wg.Wait()
}

func countSamples(t *testing.T, s *store.Store) uint64 {
	t.Helper()
	var n uint64
	conn := chtest.Conn(t, s.Config().Addr, s.Config().Database)
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM samples").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func plant(sites, perSite, size int) [][]*store.Batch {
	out := make([][]*store.Batch, sites)
	for i := range out {
		out[i] = storetest.Batches(fmt.Sprintf("site-%d", i), 1, perSite, size)
	}
	return out
}

// Against ClickHouse, two inserts run at once; every site's batches are
// acked in their order and stored once (count() without FINAL).
func TestWriterParallelInsertsWithStore(t *testing.T) {
	s := storetest.Open(t)
	ins := &overlapping{s: s}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := writer.New(ins, writer.Options{MaxRows: 3000, MaxDelay: 20 * time.Millisecond, Inserts: 2}, nil)
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(ctx) }()

	const sites, perSite, size = 4, 40, 500
	o := &siteOrder{acked: map[string][]uint64{}}
	submitAll(t, ctx, w, plant(sites, perSite, size), o)
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	if o.fails > 0 {
		t.Fatalf("%d batches failed", o.fails)
	}
	if m := ins.max(); m < 2 {
		t.Fatalf("at most %d insert in flight, want 2", m)
	}
	for site, seqs := range o.acked {
		if len(seqs) != perSite || !slices.IsSorted(seqs) {
			t.Errorf("%s acked %v, want 1…%d in order", site, seqs, perSite)
		}
	}
	if n := countSamples(t, s); n != sites*perSite*size {
		t.Fatalf("count() = %d, want %d", n, sites*perSite*size)
	}
}

// A writer stopped while two inserts are in flight, and every batch then
// sent again to a new writer (as agents resend what was not acked, and
// some of what was): each sample is stored exactly once.
func TestWriterStoppedMidFlightExactlyOnce(t *testing.T) {
	s := storetest.Open(t)
	const sites, perSite, size = 4, 40, 500
	batches := plant(sites, perSite, size)

	ctx, cancel := context.WithCancel(context.Background())
	ins := &overlapping{s: s, onBoth: cancel}
	w := writer.New(ins, writer.Options{MaxRows: 3000, MaxDelay: 20 * time.Millisecond, Inserts: 2}, nil)
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(ctx) }()
	first := &siteOrder{acked: map[string][]uint64{}}
	submitAll(t, ctx, w, batches, first)
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	if first.fails == 0 {
		t.Fatal("the stop failed no batch; the test proves nothing")
	}
	t.Logf("first writer: %d batches failed, %d rows stored", first.fails, countSamples(t, s))

	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	w2 := writer.New(s, writer.Options{MaxRows: 3000, MaxDelay: 20 * time.Millisecond, Inserts: 2}, nil)
	go func() { runDone <- w2.Run(ctx2) }()
	second := &siteOrder{acked: map[string][]uint64{}}
	submitAll(t, ctx2, w2, batches, second)
	if err := w2.Drain(ctx2); err != nil {
		t.Fatal(err)
	}
	cancel2()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	if second.fails > 0 {
		t.Fatalf("%d batches failed on the second writer", second.fails)
	}
	if n := countSamples(t, s); n != sites*perSite*size {
		t.Fatalf("count() = %d, want %d", n, sites*perSite*size)
	}
}
