package alarm

import (
	"context"
	"math"

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
		_, behind := e.dropped[b.SiteID]
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
		fromNs, toNs := sourceSpan(b)
		e.dropMu.Lock()
		e.dropped[b.SiteID] = e.dropped[b.SiteID].Widen(b.Seq, fromNs, toNs)
		e.dropMu.Unlock()
	}
}

// sourceSpan returns the earliest and latest source time of b's samples
// (0, 0 without samples): the span a read-back of b reads (see
// store.SeqRange). A span ending at 0 would read as none, so it becomes
// all of time.
func sourceSpan(b *store.Batch) (fromNs, toNs int64) {
	for i, smp := range b.Samples {
		ts := smp.GetSourceTimeNs()
		if i == 0 {
			fromNs, toNs = ts, ts
		}
		fromNs, toNs = min(fromNs, ts), max(toNs, ts)
	}
	if len(b.Samples) > 0 && toNs == 0 {
		return math.MinInt64, math.MaxInt64
	}
	return fromNs, toNs
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

// maxGathered bounds the queued items handleQueued takes at once.
const maxGathered = 1024

// handleQueued handles it and the items queued behind it, up to
// maxGathered, in order; the sites of their batches this evaluator must
// adopt first are adopted together, in a few queries, rather than one
// site and its three queries at a time as their batches come up: 1,000
// agents connecting otherwise queue 3,000 queries in front of every
// batch behind theirs.
func (e *Evaluator) handleQueued(ctx context.Context, it item) {
	items := []item{it}
	for len(items) < maxGathered && it.sync == nil {
		select {
		case it = <-e.queue:
			items = append(items, it)
			continue
		default:
		}
		break
	}
	if e.opts.Owners != nil {
		sites := map[string]bool{}
		for _, it := range items {
			if it.batch != nil {
				sites[it.batch.SiteID] = true
			}
		}
		e.adoptOwned(ctx, sites)
	}
	for _, it := range items {
		e.handle(ctx, it)
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
// queue, of every site in one query (per sitesPerQuery sites), not one
// query per site: a full queue drops the batches of hundreds of sites a
// second beside many idle agents. When the read fails every site keeps
// its range for the next tick; batches already evaluated are skipped then.
func (e *Evaluator) replayDropped(ctx context.Context) {
	e.dropMu.Lock()
	dropped := e.dropped
	e.dropped = map[string]seqRange{}
	e.dropMu.Unlock()
	if len(dropped) == 0 {
		return
	}
	sites := make(map[string]bool, len(dropped))
	for site := range dropped {
		sites[site] = true
	}
	e.adoptOwned(ctx, sites)
	for site := range dropped {
		if !e.own(ctx, site) {
			delete(dropped, site)
		}
	}
	if err := e.st.ReplaySites(ctx, dropped, func(b *store.Batch) error {
		if !e.site(b.SiteID).done(b.Seq) {
			e.replayedOne()
			// These batches arrived since the last tick: live.
			e.evaluateBatch(ctx, b, true)
		}
		return nil
	}); err != nil {
		e.logger.Warn("re-read dropped batches", "sites", len(dropped), "err", err)
		e.dropMu.Lock()
		for site, r := range dropped {
			e.dropped[site] = r.Merge(e.dropped[site])
		}
		e.dropMu.Unlock()
	}
}
