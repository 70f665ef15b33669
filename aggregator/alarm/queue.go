package alarm

import (
	"context"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// item is one unit of work for Run: a batch, or a sync request.
type item struct {
	batch *store.Batch
	sync  chan error
}

// Committed queues committed batches for evaluation without blocking. A
// batch that does not fit is remembered by sequence number and read back
// from ClickHouse later; so are the site's next batches until then, so a
// site's batches are evaluated in order.
func (e *Evaluator) Committed(batches []*store.Batch) {
	for _, b := range batches {
		n := int64(len(b.Samples))
		e.dropMu.Lock()
		r, behind := e.dropped[b.SiteID]
		e.dropMu.Unlock()
		if !behind && (e.queued.Add(n) <= int64(e.opts.MaxQueuedSamples) || n == 0) {
			select {
			case e.queue <- item{batch: b}:
				continue
			default:
			}
		}
		if !behind {
			e.queued.Add(-n)
		}
		if e.metrics != nil {
			e.metrics.dropped.Inc()
		}
		e.dropMu.Lock()
		r, behind = e.dropped[b.SiteID]
		if !behind {
			r = seqRange{b.Seq, b.Seq}
		}
		r.First, r.Last = min(r.First, b.Seq), max(r.Last, b.Seq)
		e.dropped[b.SiteID] = r
		e.dropMu.Unlock()
	}
}

// Sync waits until everything queued before it is evaluated, its events
// written and the state checkpointed.
func (e *Evaluator) Sync(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case e.queue <- item{sync: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handle evaluates a queued batch, or answers a sync request once every
// batch queued or dropped before it is evaluated and checkpointed.
func (e *Evaluator) handle(ctx context.Context, it item) {
	if it.sync != nil {
		e.drainQueue(ctx)
		e.replayDropped(ctx)
		it.sync <- e.checkpoint(ctx)
		return
	}
	e.queued.Add(-int64(len(it.batch.Samples)))
	e.evaluateBatch(ctx, it.batch, true)
}

// drainQueue evaluates every batch already queued (not sync requests
// queued behind them, which are answered in order).
func (e *Evaluator) drainQueue(ctx context.Context) {
	for {
		select {
		case it := <-e.queue:
			if it.sync != nil {
				it.sync <- e.checkpoint(ctx)
				continue
			}
			e.queued.Add(-int64(len(it.batch.Samples)))
			e.evaluateBatch(ctx, it.batch, true)
		default:
			return
		}
	}
}

// replayDropped reads back from ClickHouse the batches Committed could not
// queue; a site whose read fails keeps its range for the next tick.
func (e *Evaluator) replayDropped(ctx context.Context) {
	e.dropMu.Lock()
	dropped := e.dropped
	e.dropped = map[string]seqRange{}
	e.dropMu.Unlock()
	for site, r := range dropped {
		if !e.own(ctx, site) {
			continue
		}
		ss := e.site(site)
		if err := e.st.ReplayBatches(ctx, site, r.First, r.Last, func(b *store.Batch) error {
			if !ss.done(b.Seq) {
				e.replayedOne()
				// These batches arrived since the last tick: live.
				e.evaluateBatch(ctx, b, true)
			}
			return nil
		}); err != nil {
			e.logger.Warn("re-read dropped batches", "site", site, "err", err)
			e.dropMu.Lock()
			if cur, ok := e.dropped[site]; ok {
				r.First, r.Last = min(r.First, cur.First), max(r.Last, cur.Last)
			}
			e.dropped[site] = r
			e.dropMu.Unlock()
		}
	}
}
