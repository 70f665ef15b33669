package writer_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
)

// A batch submitted again while the first submission is still queued is
// inserted once, and both callbacks learn the result. The same seq from
// another buffer is another batch.
func TestResubmittedBatchCoalesced(t *testing.T) {
	s := storetest.Open(t)
	w := writer.New(s, writer.Options{MaxDelay: 300 * time.Millisecond}, slog.New(slog.DiscardHandler))
	seen := &observed{}
	w.Observe(seen)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(ctx) }()
	defer func() { cancel(); <-runDone }()

	const size = 50
	mk := func(buffer string) *store.Batch {
		b := storetest.Batches("S1", 1<<40|7, 1, size)[0]
		b.BufferID = buffer
		return b
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, b := range []*store.Batch{mk("a"), mk("a"), mk("a"), mk("b")} {
		wg.Add(1)
		if err := w.Submit(ctx, b, func(err error) { errs <- err; wg.Done() }); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var rows, final, rollup uint64
	q := "SELECT (SELECT count() FROM samples), (SELECT count() FROM samples FINAL), (SELECT countMerge(samples) FROM samples_1m)"
	if err := chtest.Conn(t, s.Config().Addr, s.Config().Database).QueryRow(context.Background(), q).Scan(&rows, &final, &rollup); err != nil {
		t.Fatal(err)
	}
	// Buffers a and b wrote the same samples (same points and times):
	// raw rows count both, FINAL collapses them.
	if rows != 2*size || rollup != 2*size {
		t.Fatalf("count() %d, samples_1m %d; want %d each (one insert per buffer)", rows, rollup, 2*size)
	}
	t.Logf("count() %d, FINAL %d, samples_1m %d", rows, final, rollup)
	// Alarm evaluation sees each batch once.
	if n := seen.count(); n != 2 {
		t.Fatalf("observer saw %d committed batches, want 2", n)
	}
}

type observed struct {
	mu sync.Mutex
	n  int
}

func (o *observed) Committed(bs []*store.Batch) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n += len(bs)
}

func (o *observed) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n
}
