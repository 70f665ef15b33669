package batcher

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// slowQueue takes each batch after a delay, as a buffer whose fsync is
// slower than the readers deliver.
type slowQueue struct {
	delay time.Duration
	mu    sync.Mutex
	n     int
}

func (q *slowQueue) Append(data []byte) (uint64, error) {
	time.Sleep(q.delay)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.n++
	return uint64(q.n), nil
}

// A buffer slower than the readers slows the readers: what waits in memory
// stays within MaxPendingBytes however long the disk lags.
func TestSlowBufferBlocksWriterNotMemory(t *testing.T) {
	const batch, per = 1000, 100
	const bound = 64 << 10 // encoded bytes, ~1,200 of these samples
	q := &slowQueue{delay: 5 * time.Millisecond}
	b, stop := run(t, q, Options{MaxSamples: batch, MaxWait: 50 * time.Millisecond, MaxPendingBytes: bound})
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	note := benchSamples(per, per)
	peak, written := 0, 0
	for ctx.Err() == nil {
		b.Write(note)
		written += per
		b.mu.Lock()
		peak = max(peak, len(b.pending))
		b.mu.Unlock()
	}
	// The disk takes 1,000 samples per 5 ms; a writer that never blocks
	// hands over millions in the same time.
	limit := bound/minSampleBytes + per + batch
	if peak > limit {
		t.Fatalf("%d samples waited in memory (of %d written); want at most %d", peak, written, limit)
	}
	if b.Blocked() == 0 {
		t.Fatal("Write never reported waiting")
	}
	t.Logf("written %d, peak pending %d samples, blocked %v", written, peak, b.Blocked())
}

// A failing buffer must not stall the readers: the samples wait in memory
// up to the failure bound (capPending) instead.
func TestFailingBufferDoesNotBlockWriter(t *testing.T) {
	q := &memQueue{fail: 1 << 30}
	b, stop := run(t, q, Options{MaxSamples: 10, MaxWait: 5 * time.Millisecond, MaxPendingBytes: 1 << 10})
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			b.Write(samples(10, fmt.Sprint("P", i)))
			time.Sleep(time.Millisecond)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Write blocked while the buffer was failing")
	}
}

// Writes after Run has returned do not block (nothing would ever drain them).
func TestWriteAfterStopDoesNotBlock(t *testing.T) {
	b, stop := run(t, &slowQueue{}, Options{MaxSamples: 10, MaxWait: time.Hour, MaxPendingBytes: 1})
	stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10 {
			b.Write([]*lifelinev1.Sample{{PointId: "A", SourceTimeNs: 1}})
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Write blocked after the batcher stopped")
	}
}
