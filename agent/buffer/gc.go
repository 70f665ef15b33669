package buffer

import (
	"context"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// flattenSlack is how far the LSM tree may outgrow twice the live content,
// and how much must have been deleted since the last Flatten, before the
// maintenance loop flattens it.
//
// Badger drops a deleted value only when a compaction merges it with its
// delete marker. A backlog that drained after an outage sits in the lower
// levels while its small delete markers stay in the upper ones, where size
// based compaction may never push them down: Flatten merges all levels into
// one, which drops both. Delete markers still in the memtable are not
// reached; they reach disk with the next memtable flush (2 MiB of new data)
// or at Close, and the next pass after that reclaims their values.
const flattenSlack = 64 << 20

// valueLogDiscardRatio is the share of dead data that makes Badger rewrite
// a value log file.
const valueLogDiscardRatio = 0.5

// maintain runs reclaim every GCInterval until ctx ends.
func (q *Queue) maintain(ctx context.Context) {
	defer close(q.gcDone)
	t := time.NewTicker(q.opts.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := q.reclaim(ctx, false); err != nil && !errors.Is(err, ErrClosed) {
			q.log.Warn("buffer maintenance failed", "err", err)
		}
		q.space.low() // notices space coming back while nothing is appended
		if err := q.space.keepReserve(); err != nil {
			q.log.Warn("buffer reserve", "err", err)
		}
	}
}

// reclaim returns disk space held by deleted entries: it flattens the LSM
// tree when it is much larger than the live content (or when force is set),
// then runs value log GC until Badger finds nothing to rewrite.
func (q *Queue) reclaim(ctx context.Context, force bool) error {
	if err := q.acquire(); err != nil {
		return err
	}
	defer q.release()

	q.mu.Lock()
	deleted, live, flattened := q.deleted, q.bytes, q.flattened
	q.mu.Unlock()
	lsm := q.lsmSize()
	due := lsm > 2*live+flattenSlack && (deleted >= flattenSlack || !flattened)
	// Flatten writes the new tables before it deletes the old: it needs
	// up to the tree's size free on top of the floor.
	if (force || due) && !q.space.room(uint64(lsm)) {
		q.log.Warn("buffer compaction postponed: not enough free space to rewrite the tree", "lsm_bytes", lsm)
		force, due = false, false
	}
	if force || due {
		start := time.Now()
		if err := q.db.Flatten(1); err != nil {
			return err
		}
		q.mu.Lock()
		q.deleted -= deleted
		q.flattened = true
		q.mu.Unlock()
		q.log.Info("buffer compacted", "lsm_bytes_before", lsm, "lsm_bytes_after", q.lsmSize(),
			"live_bytes", live, "took", time.Since(start).Round(time.Millisecond))
	}

	for ctx.Err() == nil && q.space.room(valueLogFileSize) {
		err := q.db.RunValueLogGC(valueLogDiscardRatio)
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// lsmSize is the on-disk size of the LSM tree's tables.
func (q *Queue) lsmSize() int64 {
	var n int64
	for _, t := range q.db.Tables() {
		n += int64(t.OnDiskSize)
	}
	return n
}
