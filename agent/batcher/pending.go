package batcher

import (
	"slices"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// maxPendingBatches bounds, in batches of MaxSamples, what waits in memory
// while the buffer refuses writes. The buffer itself holds batches in
// memory when the disk is full, so this bound is for other failures: the
// agent must not grow until it is killed, taking everything with it.
const maxPendingBatches = 50

// capPending drops the oldest pending samples beyond the bound and
// records them as a gap; b.mu is held.
func (b *Batcher) capPending() {
	limit := maxPendingBatches * max(b.opts.MaxSamples, 1)
	over := len(b.pending) - limit
	if over <= 0 {
		return
	}
	lost := b.pending[:over]
	b.gaps.add(GapBufferUnwritable, 0, lost)
	b.noteGap(summarize(GapBufferUnwritable, lost))
	b.dropped.Add(uint64(over))
	rest := copy(b.pending, b.pending[over:])
	clear(b.pending[rest:])
	b.pending = b.pending[:rest]
	b.logger.Error("buffer unwritable: dropped the oldest samples waiting for it; recorded as a gap",
		"samples", over, "still_pending", rest)
}

// coalesceUnwritable merges the buffer_unwritable records among gaps into
// one, so that a buffer failing for hours does not pile up one record per
// attempt.
func coalesceUnwritable(gaps []*lifelinev1.Gap) []*lifelinev1.Gap {
	var merged *lifelinev1.Gap
	out := gaps[:0]
	for _, g := range gaps {
		if g.GetReason() != GapBufferUnwritable {
			out = append(out, g)
			continue
		}
		if merged == nil {
			merged = g
			out = append(out, g)
			continue
		}
		merged.FromNs = min(merged.FromNs, g.FromNs)
		merged.ToNs = max(merged.ToNs, g.ToNs)
		merged.Samples += g.Samples
		if len(merged.PointIds) == 0 || len(g.PointIds) == 0 {
			merged.PointIds = nil // one of them was the whole site
			continue
		}
		ids := append(merged.PointIds, g.PointIds...)
		slices.Sort(ids)
		merged.PointIds = slices.Compact(ids)
		if len(merged.PointIds) > maxGapPoints {
			merged.PointIds = nil
		}
	}
	return out
}
