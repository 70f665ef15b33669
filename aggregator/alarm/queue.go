package alarm

import (
	"context"
	"maps"
	"math"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// queueItems bounds the queue's items as MaxQueuedSamples bounds its
// samples: many small batches (a thousand quiet agents send a thousand a
// second) must also fit seconds of them. An item is 24 bytes.
const queueItems = 16384

// item is one unit of work for Run: a batch, a read-back of batches that
// did not fit, or a sync request.
type item struct {
	batch  *committedBatch
	replay map[string]seqRange
	sync   chan error
}

// Committed queues committed batches for evaluation without blocking. A
// batch that does not fit is remembered by sequence number and read back
// from ClickHouse later; so are the site's next batches until one fits
// again, which is queued behind a read-back of those before it, so a
// site's batches are evaluated in order.
//
// Only what did not fit is read back. Holding a site's batches back until
// the next tick's read-back instead re-read them all under load: at 100
// agents every batch was dropped and read back (make bench), a quarter
// of the aggregator's CPU, because each read-back stalled the queue long
// enough to drop the next second's batches too.
func (e *Evaluator) Committed(batches []*store.Batch) {
	for _, b := range batches {
		n := int64(len(b.Samples))
		fits := e.queued.Add(n) <= int64(e.opts.MaxQueuedSamples) || n == 0
		// A full channel is checked before the batch is converted, so that
		// the conversion is not thrown away; enqueue still decides.
		if fits && len(e.queue) < cap(e.queue) && e.enqueue(newCommittedBatch(b)) {
			continue
		}
		e.queued.Add(-n)
		if e.metrics != nil {
			e.metrics.dropped.Inc()
		}
		fromNs, toNs := sourceSpan(b)
		e.dropMu.Lock()
		e.dropped[b.SiteID] = e.dropped[b.SiteID].Widen(b.Seq, fromNs, toNs)
		e.dropMu.Unlock()
	}
}

// enqueue queues b, behind a read-back of its site's dropped batches if
// it has any, and reports whether it did.
func (e *Evaluator) enqueue(b *committedBatch) bool {
	e.dropMu.Lock()
	defer e.dropMu.Unlock()
	if r, behind := e.dropped[b.site]; behind {
		select {
		case e.queue <- item{replay: map[string]seqRange{b.site: r}}:
			delete(e.dropped, b.site)
			e.markers++
		default:
			return false
		}
	}
	select {
	case e.queue <- item{batch: b}:
		return true
	default:
		return false
	}
}

// sourceSpan returns the earliest and latest source time of b's samples
// (0, 0 without samples): the span a read-back of b reads (see
// store.SeqRange).
func sourceSpan(b *store.Batch) (fromNs, toNs int64) {
	return spanOf(len(b.Samples), func(i int) int64 { return b.Samples[i].GetSourceTimeNs() })
}

// spanOf is sourceSpan of n samples whose source times ts gives. A span
// ending at 0 would read as none, so it becomes all of time.
func spanOf(n int, ts func(i int) int64) (fromNs, toNs int64) {
	for i := range n {
		t := ts(i)
		if i == 0 {
			fromNs, toNs = t, t
		}
		fromNs, toNs = min(fromNs, t), max(toNs, t)
	}
	if n > 0 && toNs == 0 {
		return math.MinInt64, math.MaxInt64
	}
	return fromNs, toNs
}

// heldBack reports whether b's site waits for a read-back that failed,
// and if so adds b to the site's range instead: evaluated now, b would
// come before the batches that range holds, and they would go through
// the history path when read back.
func (e *Evaluator) heldBack(b *committedBatch) bool {
	e.dropMu.Lock()
	defer e.dropMu.Unlock()
	if !e.unread[b.site] {
		return false
	}
	fromNs, toNs := spanOf(len(b.samples), func(i int) int64 { return b.samples[i].ts })
	e.dropped[b.site] = e.dropped[b.site].Widen(b.seq, fromNs, toNs)
	return true
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
	sites := map[string]bool{}
	for _, it := range items {
		if it.batch != nil {
			sites[it.batch.site] = true
		}
	}
	// The points of sites new since the last refresh are read together
	// too, and first: an adoption evaluates the batches committed before.
	e.learn(ctx, maps.Keys(sites))
	e.adoptOwned(ctx, sites)
	for i := 0; i < len(items); i++ {
		it := items[i]
		// Consecutive read-backs (many sites' first batch to fit again)
		// become one query.
		for it.replay != nil && i+1 < len(items) && items[i+1].replay != nil {
			i++
			for site, r := range items[i].replay {
				it.replay[site] = r.Merge(it.replay[site])
			}
			e.markerDone()
		}
		e.handle(ctx, it)
	}
}

// handle evaluates a queued batch, or answers a sync request once every
// batch queued or dropped before it is evaluated and checkpointed.
func (e *Evaluator) handle(ctx context.Context, it item) {
	switch {
	case it.sync != nil:
		e.drainQueue(ctx)
		e.replayDropped(ctx)
		it.sync <- e.checkpoint(ctx)
	case it.replay != nil:
		e.replay(ctx, it.replay)
		e.markerDone()
	default:
		e.queued.Add(-int64(len(it.batch.samples)))
		if !e.heldBack(it.batch) {
			e.evaluate(ctx, it.batch, true)
		}
	}
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
			e.handle(ctx, it)
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
	e.reading = len(dropped) // a queued read-back is counted in markers instead
	e.dropMu.Unlock()
	e.replay(ctx, dropped)
}

// replay reads back and evaluates the batches of ranges this evaluator
// owns. When the read fails, every site keeps its range for the next
// tick, and its batches still queued are held back into it (see
// heldBack); batches already evaluated are skipped then.
func (e *Evaluator) replay(ctx context.Context, ranges map[string]seqRange) {
	defer func() {
		e.dropMu.Lock()
		defer e.dropMu.Unlock()
		e.reading = 0
	}()
	if len(ranges) == 0 {
		return
	}
	sites := make(map[string]bool, len(ranges))
	for site := range ranges {
		sites[site] = true
	}
	e.learn(ctx, maps.Keys(sites))
	e.adoptOwned(ctx, sites)
	defer e.waited("readback", time.Now())
	e.dropMu.Lock()
	for site := range ranges {
		// A site held back since a failed read-back: what was held back
		// since comes with this read, before the site's next batch.
		if e.unread[site] {
			ranges[site] = ranges[site].Merge(e.dropped[site])
			delete(e.dropped, site)
		}
	}
	e.dropMu.Unlock()
	for site := range ranges {
		if !e.own(ctx, site) {
			delete(ranges, site)
			e.readBack(site) // another aggregator's now
		}
	}
	if err := e.st.ReplaySites(ctx, ranges, func(b *store.Batch) error {
		if !e.site(b.SiteID).done(b.Seq) {
			e.replayedOne()
			// These batches arrived since the last tick: live.
			e.evaluateBatch(ctx, b, true)
		}
		return nil
	}); err != nil {
		e.logger.Warn("re-read dropped batches", "sites", len(ranges), "err", err)
		e.dropMu.Lock()
		for site, r := range ranges {
			e.dropped[site] = r.Merge(e.dropped[site])
			e.unread[site] = true
		}
		e.dropMu.Unlock()
		return
	}
	for site := range ranges {
		e.readBack(site)
	}
}

// readBack ends the hold on site's queued batches (see heldBack).
func (e *Evaluator) readBack(site string) {
	e.dropMu.Lock()
	defer e.dropMu.Unlock()
	delete(e.unread, site)
}

// markerDone counts a queued read-back as handled.
func (e *Evaluator) markerDone() {
	e.dropMu.Lock()
	defer e.dropMu.Unlock()
	e.markers--
}

// readBackSites is how many sites have batches waiting to be read back
// or being read back, counting a queued read-back as one: 0 once
// evaluation has caught up with what did not fit the queue.
func (e *Evaluator) readBackSites() int {
	e.dropMu.Lock()
	defer e.dropMu.Unlock()
	return len(e.dropped) + e.markers + e.reading
}
