package writer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
)

// An idle writer and one retrying a failing ClickHouse are not stalled; one
// whose insert never returns is, once the limit passes.
func TestWriterStalled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := make(chan struct{})
		ins := &fakeInserter{fn: func(ctx context.Context, call int, _ []*store.Batch) error {
			if call < 3 {
				return errors.New("connection refused")
			}
			select {
			case <-hang:
			case <-ctx.Done():
			}
			return ctx.Err()
		}}
		w := writer.New(ins, writer.Options{MaxRows: 10, MaxDelay: time.Millisecond, RetryBackoff: time.Second,
			MaxRetryBackoff: time.Second}, nil)
		const limit = 10 * time.Second
		if err := w.Stalled(limit); err != nil {
			t.Fatalf("before Run: %v", err)
		}
		stop := runWriter(t, w)
		time.Sleep(time.Minute)
		if err := w.Stalled(limit); err != nil {
			t.Fatalf("idle: %v", err)
		}
		res := newResults(t)
		if err := w.Submit(context.Background(), batchOf(1, 10), res.done(1)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2500 * time.Millisecond) // three failed attempts a second apart
		if err := w.Stalled(limit); err != nil {
			t.Fatalf("retrying: %v", err)
		}
		time.Sleep(limit)
		if err := w.Stalled(limit); err == nil || !strings.Contains(err.Error(), "10 rows pending and no insert attempt ended for 11s") {
			t.Fatalf("insert hanging: %v", err)
		}
		close(hang)
		synctest.Wait()
		stop()
	})
}
