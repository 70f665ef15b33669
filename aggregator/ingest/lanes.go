package ingest

import (
	"context"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// laneBatches bounds the back-filled batches a stream holds waiting for the
// writer. It matches the largest backlog window an agent may have
// (aggregator.max_in_flight), so an agent within its window never finds
// its live batches stuck behind its backlog; the memory it costs is what
// the agent has in flight.
const laneBatches = 1024

// backfillLane hands a stream's back-filled batches to the writer in order,
// on a goroutine of its own. The stream's reader only queues them, so a
// Submit that waits for the writer's pending bound, or a slow ledger
// lookup, holds back the backlog and never the live batches read after it.
//
// The queue and its goroutine start with the first back-filled batch: most
// streams never send one, and at 1,000 connected agents the idle lanes
// were ~10 MB of heap and 1,000 goroutine stacks for the collector to scan.
// put and close are called by the stream's reader only.
type backfillLane struct {
	batches chan *lifelinev1.Batch // nil until the first put
	failed  chan error             // the first error of accept; the stream ends on it
	done    chan struct{}
	start   func(*backfillLane) // runs l.run on a goroutine of its own
}

// newBackfillLane returns a lane that start starts at its first batch.
func newBackfillLane(start func(*backfillLane)) *backfillLane {
	return &backfillLane{failed: make(chan error, 1), done: make(chan struct{}), start: start}
}

// run accepts queued batches until close. After a failure it only drains
// the queue: the stream is ending and its agent sends them again.
func (l *backfillLane) run(ctx context.Context, accept func(context.Context, *lifelinev1.Batch) error) {
	defer close(l.done)
	failed := false
	for b := range l.batches {
		if failed {
			continue
		}
		if err := accept(ctx, b); err != nil {
			failed = true
			l.failed <- err
		}
	}
}

// put queues b, waiting while the lane is full.
func (l *backfillLane) put(ctx context.Context, b *lifelinev1.Batch) error {
	if l.batches == nil {
		l.batches = make(chan *lifelinev1.Batch, laneBatches)
		l.start(l)
	}
	select {
	case l.batches <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close ends run once it has drained the queue, and waits for it.
func (l *backfillLane) close() {
	if l.batches == nil {
		return // never started
	}
	close(l.batches)
	<-l.done
}

// fail ends the stream with err unless it is ending with an earlier one.
func (l *backfillLane) fail(err error) {
	select {
	case l.failed <- err:
	default:
	}
}
