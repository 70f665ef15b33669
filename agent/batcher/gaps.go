package batcher

import (
	"cmp"
	"slices"

	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// maxGapPoints bounds the point list of one gap record; a gap touching more
// points is recorded for the whole site.
const maxGapPoints = 1000

// gapLog accumulates what was lost until the next batch carries it.
type gapLog struct {
	byReason map[string]*gapAcc
}

type gapAcc struct {
	gap    *lifelinev1.Gap
	points map[string]struct{}
	whole  bool
}

func (l *gapLog) add(reason string, seq uint64, samples []*lifelinev1.Sample) {
	if len(samples) == 0 {
		return
	}
	if l.byReason == nil {
		l.byReason = make(map[string]*gapAcc)
	}
	acc := l.byReason[reason]
	if acc == nil {
		first := samples[0].GetSourceTimeNs()
		acc = &gapAcc{gap: &lifelinev1.Gap{Reason: reason, FromNs: first, ToNs: first}, points: map[string]struct{}{}}
		l.byReason[reason] = acc
	}
	for _, s := range samples {
		ts := s.GetSourceTimeNs()
		acc.gap.FromNs = min(acc.gap.FromNs, ts)
		acc.gap.ToNs = max(acc.gap.ToNs, ts)
		if !acc.whole {
			acc.points[s.GetPointId()] = struct{}{}
			if len(acc.points) > maxGapPoints {
				acc.whole, acc.points = true, nil
			}
		}
	}
	acc.gap.Samples += uint64(len(samples))
	if seq != 0 { // 0: samples that never had a buffer entry
		acc.gap.Batches = append(acc.gap.Batches, &lifelinev1.DroppedBatch{Seq: seq, Samples: uint64(len(samples))})
	}
}

// take returns the accumulated gaps and starts afresh.
func (l *gapLog) take() []*lifelinev1.Gap {
	if len(l.byReason) == 0 {
		return nil
	}
	out := make([]*lifelinev1.Gap, 0, len(l.byReason))
	for _, acc := range l.byReason {
		if !acc.whole {
			for p := range acc.points {
				acc.gap.PointIds = append(acc.gap.PointIds, p)
			}
			slices.Sort(acc.gap.PointIds)
		}
		out = append(out, acc.gap)
	}
	slices.SortFunc(out, func(a, b *lifelinev1.Gap) int { return cmp.Compare(a.FromNs, b.FromNs) })
	l.byReason = nil
	return out
}

// Dropped records that the buffer dropped an entry to stay within its
// bound. It is the buffer's OnDrop callback: the lost samples become a gap
// record that travels in the next batch.
func (b *Batcher) Dropped(seq uint64, data []byte) { b.lost(GapBufferFull, seq, data) }

// DiskFullDropped records that the buffer dropped an entry it held in
// memory while the disk was full. It is the buffer's OnDiskFullDrop
// callback.
func (b *Batcher) DiskFullDropped(seq uint64, data []byte) { b.lost(GapDiskFull, seq, data) }

// Reasons of the gaps the batcher records.
const (
	GapBufferFull = "buffer_full"
	GapDiskFull   = "disk_full"
	// GapBufferUnwritable: the buffer refused writes for another reason
	// and the samples waiting for it passed maxPendingBatches batches.
	GapBufferUnwritable = "buffer_unwritable"
)

func (b *Batcher) lost(reason string, seq uint64, data []byte) {
	var batch lifelinev1.Batch
	if err := proto.Unmarshal(data, &batch); err != nil {
		b.logger.Error("dropped buffer entry is unreadable; its gap cannot be described", "seq", seq, "reason", reason, "err", err)
		return
	}
	b.dropped.Add(uint64(len(batch.Samples)))
	b.mu.Lock()
	b.gaps.add(reason, seq, batch.Samples)
	// Gaps the dropped batch itself carried are still owed to the aggregator.
	b.carried = append(b.carried, batch.Gaps...)
	b.mu.Unlock()
	b.logger.Warn("buffer dropped a batch", "reason", reason, "seq", seq, "samples", len(batch.Samples))
	if len(batch.Samples) > 0 { // a batch of gap records only lost no samples
		b.noteGap(summarize(reason, batch.Samples))
	}
	b.signal()
}

// RecordGap records a loss found elsewhere (e.g. a damaged buffer).
func (b *Batcher) RecordGap(g *lifelinev1.Gap) {
	b.mu.Lock()
	b.carried = append(b.carried, g)
	b.mu.Unlock()
	b.noteGap(&lifelinev1.Gap{Reason: g.GetReason(), FromNs: g.GetFromNs(), ToNs: g.GetToNs(), Samples: g.GetSamples(),
		PointIds: g.GetPointIds()})
	b.signal()
}

func (b *Batcher) noteGap(g *lifelinev1.Gap) {
	if b.opts.OnGap != nil {
		b.opts.OnGap(g)
	}
}

// summarize describes lost samples by their source time span and count.
func summarize(reason string, samples []*lifelinev1.Sample) *lifelinev1.Gap {
	g := &lifelinev1.Gap{Reason: reason, Samples: uint64(len(samples))}
	for i, s := range samples {
		ts := s.GetSourceTimeNs()
		if i == 0 {
			g.FromNs, g.ToNs = ts, ts
		}
		g.FromNs, g.ToNs = min(g.FromNs, ts), max(g.ToNs, ts)
	}
	return g
}
