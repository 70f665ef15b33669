package alarm

import (
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// committedBatch is a committed batch as evaluation reads it. The queue
// keeps these rather than the decoded protobuf batches (~50 bytes a sample
// against ~140), so it holds seconds of a busy aggregator's batches where
// it held one: evaluation stalls while it reads from ClickHouse, and with
// one second of room every stall dropped the next second's batches to be
// read back too, which stalled it again (make bench, 100 agents: every
// batch read back). The decoded samples are freed once written.
type committedBatch struct {
	site     string
	seq      uint64
	samples  []pointSample
	liveness []*lifelinev1.Liveness
}

// pointSample is a sample and its point.
type pointSample struct {
	point string
	sample
}

func newCommittedBatch(b *store.Batch) *committedBatch {
	cb := &committedBatch{site: b.SiteID, seq: b.Seq, liveness: b.Liveness, samples: make([]pointSample, len(b.Samples))}
	for i, smp := range b.Samples {
		s := sample{ts: smp.GetSourceTimeNs(), good: smp.GetStatus()>>30 == 0, backfill: b.Backfill || smp.GetHistory()}
		s.value, s.numeric = sampleNumber(smp)
		cb.samples[i] = pointSample{point: smp.GetPointId(), sample: s}
	}
	return cb
}
