package writer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// fakeInserter records the sequence numbers of every Insert call and
// answers with fn (nil: success).
type fakeInserter struct {
	mu    sync.Mutex
	calls [][]uint64
	fn    func(ctx context.Context, call int, batches []*store.Batch) error
}

func (f *fakeInserter) Insert(ctx context.Context, batches []*store.Batch) error {
	f.mu.Lock()
	call := len(f.calls)
	seqs := make([]uint64, len(batches))
	for i, b := range batches {
		seqs[i] = b.Seq
	}
	f.calls = append(f.calls, seqs)
	fn := f.fn
	f.mu.Unlock()
	if fn != nil {
		return fn(ctx, call, batches)
	}
	return nil
}

func (f *fakeInserter) Calls() [][]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// results collects done callbacks and fails the test on a second call.
type results struct {
	t   *testing.T
	mu  sync.Mutex
	err map[uint64]error
}

func newResults(t *testing.T) *results { return &results{t: t, err: map[uint64]error{}} }

func (r *results) done(seq uint64) func(error) {
	return func(err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, dup := r.err[seq]; dup {
			r.t.Errorf("done called twice for seq %d", seq)
		}
		r.err[seq] = err
	}
}

func (r *results) get(seq uint64) (error, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	err, ok := r.err[seq]
	return err, ok
}

func (r *results) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.err)
}

func batchOf(seq uint64, rows int) *store.Batch {
	b := &store.Batch{SiteID: "s", Seq: seq}
	for i := range rows {
		b.Samples = append(b.Samples, &lifelinev1.Sample{PointId: "p", SourceTimeNs: int64(seq)*1000 + int64(i)})
	}
	return b
}

// runWriter starts w.Run in the bubble and returns a stop function that
// cancels it and waits for Run to return.
func runWriter(t *testing.T, w *writer.Writer) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Run(ctx) }()
	return func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run = %v", err)
		}
	}
}

func TestWriterGroupsBySize(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	synctest.Test(t, func(t *testing.T) {
		ins := &fakeInserter{}
		w := writer.New(ins, writer.Options{MaxRows: 10, MaxDelay: time.Hour}, nil)
		stop := runWriter(t, w)
		defer stop()
		res := newResults(t)
		ctx := context.Background()
		for seq := uint64(1); seq <= 5; seq++ {
			if err := w.Submit(ctx, batchOf(seq, 5), res.done(seq)); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		want := [][]uint64{{1, 2}, {3, 4}}
		if got := ins.Calls(); !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("inserts %v, want %v", got, want)
		}
		if _, ok := res.get(5); ok {
			t.Fatal("seq 5 flushed before MaxDelay")
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if err, ok := res.get(5); !ok || err != nil {
			t.Fatalf("seq 5 after MaxDelay: done=%v err=%v", ok, err)
		}
		// A batch larger than MaxRows goes alone.
		if err := w.Submit(ctx, batchOf(6, 25), res.done(6)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := ins.Calls(); !slices.Equal(got[len(got)-1], []uint64{6}) {
			t.Fatalf("inserts %v, want the last to be [6]", got)
		}
		if res.count() != 6 {
			t.Fatalf("%d done calls, want 6", res.count())
		}
	})
}

func TestWriterFlushesByDelay(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	synctest.Test(t, func(t *testing.T) {
		ins := &fakeInserter{}
		w := writer.New(ins, writer.Options{MaxRows: 1000, MaxDelay: 200 * time.Millisecond}, nil)
		stop := runWriter(t, w)
		defer stop()
		res := newResults(t)
		ctx := context.Background()
		start := time.Now()
		if err := w.Submit(ctx, batchOf(1, 3), res.done(1)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if err := w.Submit(ctx, batchOf(2, 0), res.done(2)); err != nil { // empty batches go through too
			t.Fatal(err)
		}
		time.Sleep(99 * time.Millisecond)
		synctest.Wait()
		if n := len(ins.Calls()); n != 0 {
			t.Fatalf("%d inserts after %s, want 0", n, time.Since(start))
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		want := [][]uint64{{1, 2}}
		if got := ins.Calls(); !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("inserts %v, want %v", got, want)
		}
		if res.count() != 2 {
			t.Fatalf("%d done calls, want 2", res.count())
		}
	})
}

func backfillOf(seq uint64, rows int) *store.Batch {
	b := batchOf(seq, rows)
	b.Backfill = true
	return b
}

// firstInsertHeld runs a Writer (MaxRows 10, one insert at a time) whose
// first insert blocks until release is closed; the Writer stops when the
// test ends.
func firstInsertHeld(t *testing.T, maxPending int) (*writer.Writer, *fakeInserter, chan struct{}) {
	t.Helper()
	release := make(chan struct{})
	ins := &fakeInserter{fn: func(ctx context.Context, call int, _ []*store.Batch) error {
		if call == 0 {
			<-release
		}
		return nil
	}}
	w := writer.New(ins, writer.Options{MaxRows: 10, MaxDelay: time.Millisecond, MaxPendingRows: maxPending, Inserts: 1}, nil)
	t.Cleanup(runWriter(t, w))
	return w, ins, release
}

// The bound is on back-filled data: a drain that fills the writer waits.
func TestWriterBackPressure(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	synctest.Test(t, func(t *testing.T) {
		w, _, release := firstInsertHeld(t, 10)
		res := newResults(t)
		ctx := context.Background()
		if err := w.Submit(ctx, backfillOf(1, 10), res.done(1)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the insert of seq 1 is now blocked

		// A Submit beyond the bound blocks until its context ends.
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		start := time.Now()
		err := w.Submit(cctx, backfillOf(2, 1), res.done(2))
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("Submit over the bound = %v after %s, want deadline after 1s", err, time.Since(start))
		}

		// Another blocks until the insert completes, then passes.
		submitted := make(chan error, 1)
		go func() { submitted <- w.Submit(ctx, backfillOf(3, 5), res.done(3)) }()
		synctest.Wait()
		select {
		case err := <-submitted:
			t.Fatalf("Submit returned %v while the writer was full", err)
		default:
		}
		close(release)
		if err := <-submitted; err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if _, ok := res.get(2); ok {
			t.Fatal("done called for a batch whose Submit failed")
		}
		for _, seq := range []uint64{1, 3} {
			if err, ok := res.get(seq); !ok || err != nil {
				t.Fatalf("seq %d: done=%v err=%v", seq, ok, err)
			}
		}
	})
}

// Live batches go into the next insert ahead of a queued backlog, and pass
// a bound the backlog has filled.
// Live batches are held to the bound too: it is what sizes the
// aggregator's memory when every agent sends live data.
func TestWriterLiveBound(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	synctest.Test(t, func(t *testing.T) {
		w, _, release := firstInsertHeld(t, 10)
		res := newResults(t)
		ctx := context.Background()
		if err := w.Submit(ctx, batchOf(1, 10), res.done(1)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the insert of seq 1 is blocked
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if err := w.Submit(cctx, batchOf(2, 1), res.done(2)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("live Submit over the bound = %v, want it to wait until its deadline", err)
		}
		close(release)
		if err := w.Submit(ctx, batchOf(3, 10), res.done(3)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
	})
}

func TestWriterLiveFirst(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	synctest.Test(t, func(t *testing.T) {
		w, ins, release := firstInsertHeld(t, 40)
		res := newResults(t)
		ctx := context.Background()
		if err := w.Submit(ctx, backfillOf(1, 10), res.done(1)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the insert of seq 1 is blocked
		for _, seq := range []uint64{2, 3} {
			if err := w.Submit(ctx, backfillOf(seq, 5), res.done(seq)); err != nil {
				t.Fatal(err)
			}
		}
		// The backlog has filled its half of the bound; a live batch still passes.
		if err := w.Submit(ctx, batchOf(100, 5), res.done(100)); err != nil {
			t.Fatal(err)
		}
		close(release)
		time.Sleep(time.Millisecond)
		synctest.Wait()
		calls := ins.Calls()
		if len(calls) < 2 || calls[1][0] != 100 {
			t.Fatalf("inserts %v: the live batch should lead the second insert", calls)
		}
	})
}

func TestWriterRetriesUntilSuccess(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	synctest.Test(t, func(t *testing.T) {
		var attempts []time.Time
		ins := &fakeInserter{fn: func(ctx context.Context, call int, _ []*store.Batch) error {
			attempts = append(attempts, time.Now())
			if call < 3 {
				return fmt.Errorf("connection refused (attempt %d)", call+1)
			}
			return nil
		}}
		w := writer.New(ins, writer.Options{MaxRows: 10, MaxDelay: time.Millisecond,
			RetryBackoff: 100 * time.Millisecond, MaxRetryBackoff: 300 * time.Millisecond}, nil)
		stop := runWriter(t, w)
		defer stop()
		res := newResults(t)
		if err := w.Submit(context.Background(), batchOf(1, 3), res.done(1)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if err, ok := res.get(1); !ok || err != nil {
			t.Fatalf("done=%v err=%v, want nil once", ok, err)
		}
		if len(attempts) != 4 {
			t.Fatalf("%d attempts, want 4", len(attempts))
		}
		var gaps []time.Duration
		for i := 1; i < len(attempts); i++ {
			gaps = append(gaps, attempts[i].Sub(attempts[i-1]))
		}
		want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
		if !slices.Equal(gaps, want) {
			t.Fatalf("backoffs %v, want %v", gaps, want)
		}
	})
}

func TestWriterCancelFailsPending(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	synctest.Test(t, func(t *testing.T) {
		ins := &fakeInserter{fn: func(context.Context, int, []*store.Batch) error {
			return errors.New("server unavailable")
		}}
		w := writer.New(ins, writer.Options{MaxRows: 5, MaxDelay: time.Hour}, nil)
		stop := runWriter(t, w)
		res := newResults(t)
		ctx := context.Background()
		// seq 1 is being retried; seq 2 waits in the queue.
		for seq := uint64(1); seq <= 2; seq++ {
			if err := w.Submit(ctx, batchOf(seq, 5), res.done(seq)); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if res.count() != 0 {
			t.Fatal("done called on a transient failure")
		}
		stop()
		for _, seq := range []uint64{1, 2} {
			err, ok := res.get(seq)
			if !ok || !errors.Is(err, context.Canceled) {
				t.Errorf("seq %d: done=%v err=%v, want context.Canceled", seq, ok, err)
			}
		}
		if err := w.Submit(ctx, batchOf(3, 1), res.done(3)); !errors.Is(err, writer.ErrStopped) {
			t.Fatalf("Submit after Run = %v, want ErrStopped", err)
		}
	})
}

func TestWriterPermanentErrorIsolated(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	synctest.Test(t, func(t *testing.T) {
		ins := &fakeInserter{fn: func(_ context.Context, _ int, batches []*store.Batch) error {
			for _, b := range batches {
				if b.Seq == 2 {
					return &store.PermanentError{Err: errors.New("bad value in seq 2")}
				}
			}
			return nil
		}}
		w := writer.New(ins, writer.Options{MaxRows: 100, MaxDelay: time.Millisecond}, nil)
		stop := runWriter(t, w)
		defer stop()
		res := newResults(t)
		for seq := uint64(1); seq <= 3; seq++ {
			if err := w.Submit(context.Background(), batchOf(seq, 2), res.done(seq)); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		for seq, wantErr := range map[uint64]bool{1: false, 2: true, 3: false} {
			err, ok := res.get(seq)
			if !ok || (err != nil) != wantErr || (wantErr && !store.IsPermanent(err)) {
				t.Errorf("seq %d: done=%v err=%v", seq, ok, err)
			}
		}
	})
}

func TestWriterDrain(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	synctest.Test(t, func(t *testing.T) {
		ins := &fakeInserter{}
		w := writer.New(ins, writer.Options{MaxRows: 100, MaxDelay: time.Hour}, nil)
		stop := runWriter(t, w)
		defer stop()
		res := newResults(t)
		ctx := context.Background()
		for seq := uint64(1); seq <= 3; seq++ {
			if err := w.Submit(ctx, batchOf(seq, 2), res.done(seq)); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		if err := w.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) != 0 || res.count() != 3 {
			t.Fatalf("drained %d batches after %s, want 3 at once", res.count(), time.Since(start))
		}
		if err := w.Submit(ctx, batchOf(4, 1), res.done(4)); !errors.Is(err, writer.ErrStopped) {
			t.Fatalf("Submit after Drain = %v, want ErrStopped", err)
		}
		if err := w.Drain(ctx); err != nil {
			t.Fatalf("second Drain: %v", err)
		}
	})
}

func TestWriterOptionsValidate(t *testing.T) {
	if err := writer.DefaultOptions().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (writer.Options{}).Validate(); err != nil {
		t.Fatalf("zero options (all defaults): %v", err)
	}
	if err := (writer.Options{MaxRows: -1, MaxDelay: -1}).Validate(); err == nil {
		t.Fatal("negative options accepted")
	}
}
