package writer_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
)

// order records the sequence numbers of done callbacks and committed
// batches in the order they came.
type order struct {
	mu        sync.Mutex
	done      []uint64
	committed []uint64
}

func (o *order) doneOf(seq uint64) func(error) {
	return func(err error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if err == nil {
			o.done = append(o.done, seq)
		}
	}
}

func (o *order) Committed(bs []*store.Batch) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, b := range bs {
		o.committed = append(o.committed, b.Seq)
	}
}

func (o *order) get() (done, committed []uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.done), slices.Clone(o.committed)
}

// Two inserts run at once; the second, though it commits first, is acked
// and shown to the observer only after the first.
func TestWriterInsertsSideBySide(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	synctest.Test(t, func(t *testing.T) {
		release := []chan struct{}{make(chan struct{}), make(chan struct{})}
		var mu sync.Mutex
		running, most := 0, 0
		ins := &fakeInserter{fn: func(ctx context.Context, call int, _ []*store.Batch) error {
			mu.Lock()
			running++
			most = max(most, running)
			mu.Unlock()
			if call < len(release) {
				<-release[call]
			}
			mu.Lock()
			running--
			mu.Unlock()
			return nil
		}}
		w := writer.New(ins, writer.Options{MaxRows: 10, MaxDelay: time.Millisecond, Inserts: 2}, nil)
		o := &order{}
		w.Observe(o)
		defer runWriter(t, w)()
		ctx := context.Background()
		for _, seq := range []uint64{1, 2} {
			if err := w.Submit(ctx, batchOf(seq, 10), o.doneOf(seq)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond)
			synctest.Wait()
		}
		mu.Lock()
		inFlight := most
		mu.Unlock()
		if inFlight != 2 {
			t.Fatalf("%d inserts in flight at most, want 2", inFlight)
		}
		close(release[1])
		synctest.Wait()
		if done, committed := o.get(); len(done) != 0 || len(committed) != 0 {
			t.Fatalf("second insert told before the first: done %v, committed %v", done, committed)
		}
		close(release[0])
		synctest.Wait()
		done, committed := o.get()
		if !slices.Equal(done, []uint64{1, 2}) || !slices.Equal(committed, []uint64{1, 2}) {
			t.Fatalf("done %v, committed %v; want [1 2] for both", done, committed)
		}
	})
}

// A third insert waits for a free slot, and live batches lead it.
func TestWriterInsertsBoundedLiveFirst(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	synctest.Test(t, func(t *testing.T) {
		release := []chan struct{}{make(chan struct{}), make(chan struct{})}
		ins := &fakeInserter{fn: func(ctx context.Context, call int, _ []*store.Batch) error {
			if call < 2 {
				<-release[call]
			}
			return nil
		}}
		w := writer.New(ins, writer.Options{MaxRows: 10, MaxDelay: time.Millisecond, Inserts: 2}, nil)
		defer runWriter(t, w)()
		res := newResults(t)
		ctx := context.Background()
		for _, seq := range []uint64{1, 2, 3} {
			if err := w.Submit(ctx, backfillOf(seq, 10), res.done(seq)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond)
			synctest.Wait()
		}
		if err := w.Submit(ctx, batchOf(100, 10), res.done(100)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if calls := ins.Calls(); len(calls) != 2 {
			t.Fatalf("inserts %v while two are held, want 2", calls)
		}
		// One slot at a time: with both free, the two inserts taken would
		// call the inserter in either order. The other held insert keeps
		// its slot, so the backlog batch waits for the live one's.
		close(release[0])
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		calls := ins.Calls()
		if len(calls) < 3 || calls[2][0] != 100 {
			t.Fatalf("inserts %v: the live batch should lead the third insert", calls)
		}
		close(release[1])
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if calls := ins.Calls(); len(calls) != 4 || calls[3][0] != 3 {
			t.Fatalf("inserts %v: the backlog batch should follow", calls)
		}
		if res.count() != 4 {
			t.Fatalf("%d batches done, want 4", res.count())
		}
	})
}

// While one insert runs, the free connection starts the next as soon as a
// quarter of MaxRows waits, without waiting for MaxDelay; with none
// running, batches still gather until MaxDelay or MaxRows.
func TestWriterStartsBesideARunningInsert(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		ins := &fakeInserter{fn: func(ctx context.Context, call int, _ []*store.Batch) error {
			if call == 0 {
				<-release
			}
			return nil
		}}
		w := writer.New(ins, writer.Options{MaxRows: 80, MaxDelay: time.Hour, Inserts: 2}, nil)
		stop := runWriter(t, w)
		res := newResults(t)
		ctx := context.Background()
		submit := func(seq uint64, rows int) {
			t.Helper()
			if err := w.Submit(ctx, batchOf(seq, rows), res.done(seq)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
			synctest.Wait()
		}
		submit(1, 80) // MaxRows: taken at once, and held
		submit(2, 10)
		if calls := ins.Calls(); len(calls) != 1 {
			t.Fatalf("inserts %v with 10 rows waiting beside a running insert, want 1", calls)
		}
		submit(3, 10)
		want := [][]uint64{{1}, {2, 3}}
		if got := ins.Calls(); !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("inserts %v with 20 rows waiting beside a running insert, want %v", got, want)
		}
		close(release)
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if res.count() != 3 {
			t.Fatalf("%d batches done, want 3", res.count())
		}
		submit(4, 20) // nothing runs: it waits for MaxDelay
		if got := ins.Calls(); len(got) != 2 {
			t.Fatalf("inserts %v with none running, want the 2 before", got)
		}
		stop()
	})
}
