package ingest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// intake is what a stream needs to take a batch in.
type intake struct {
	svc      *Service
	site     string
	bufferID string
	known    catalog
	acks     *ackQueue
	pending  *sync.WaitGroup
	share    *streamShare // unacked samples in the admission budget
}

// accept checks the samples of a batch and submits it to the writer.
func (in *intake) accept(ctx context.Context, batch *lifelinev1.Batch) error {
	s, site := in.svc, in.site
	received, sent := s.now(), len(batch.GetSamples())
	valid, rejected := s.filter(batch.GetSamples(), in.known, received)
	if len(rejected) > 0 {
		s.metrics.rejected.Add(float64(len(rejected)))
		s.logger.Warn("rejected samples", "site", site, "seq", batch.GetSeq(), "count", len(rejected),
			"first_point", quote(rejected[0].GetPointId()), "first_reason", rejected[0].GetReason())
	}
	valid, duplicates, err := s.dropStored(ctx, site, valid)
	if err != nil {
		return status.Errorf(codes.Unavailable, "batch %d: %v", batch.GetSeq(), err)
	}
	s.metrics.batches.Inc()
	s.metrics.samples.Add(float64(len(valid)))
	s.metrics.duplicates.Add(float64(duplicates))
	ack := &lifelinev1.Ack{Seq: batch.GetSeq(), Rejected: rejected, Duplicates: uint32(duplicates)}
	if err := ctx.Err(); err != nil {
		return err // replaced: the newer stream owns this site's sequence now
	}
	gaps, err := s.settleGaps(ctx, site, in.bufferID, batch.GetGaps())
	if err != nil {
		return status.Errorf(codes.Unavailable, "batch %d: %v", batch.GetSeq(), err)
	}
	if len(gaps) > 0 {
		s.logger.Warn("agent reports lost data", "site", site, "seq", batch.GetSeq(), "gaps", len(gaps),
			"samples", gaps[0].GetSamples(), "reason", gaps[0].GetReason())
	}
	sb := &store.Batch{SiteID: site, BufferID: in.bufferID, Seq: batch.GetSeq(), Backfill: batch.GetBackfill(), Samples: valid, Gaps: gaps,
		Liveness: batch.GetLiveness(), ConditionEvents: batch.GetConditionEvents()}
	in.pending.Add(1)
	// Released here unless the writer took the batch, also when Submit
	// panics: the site's next stream waits for pending.
	handed := false
	defer func() {
		if !handed {
			in.pending.Done()
		}
	}()
	err = s.writer.Submit(ctx, sb, func(err error) {
		defer in.pending.Done()
		if err == nil {
			s.metrics.ackLatency.Observe(time.Since(received).Seconds())
		}
		ack.WindowSamples = in.share.acked(sent)
		settle(in.acks, s.metrics, ack, err)
	})
	if err != nil {
		return fmt.Errorf("submit batch %d: %w", batch.GetSeq(), err)
	}
	handed = true
	return nil
}

// catalog maps each point ID of a stream's hello to the hello's own copy.
type catalog map[string]string

// filter splits samples into those to store and those refused, in place.
// A valid sample's point ID is replaced by the hello's copy: the decoded
// one, a string of its own per sample, is then garbage at once instead of
// being held with the sample until its insert and alarm evaluation.
func (s *Service) filter(samples []*lifelinev1.Sample, known catalog, now time.Time) ([]*lifelinev1.Sample, []*lifelinev1.Rejection) {
	var rejected []*lifelinev1.Rejection
	valid := samples[:0]
	for i, smp := range samples {
		if reason := s.rules.check(smp, known, now); reason != "" {
			rejected = append(rejected, &lifelinev1.Rejection{Index: uint32(i), PointId: smp.GetPointId(), Reason: reason})
			continue
		}
		smp.PointId = known[smp.PointId]
		valid = append(valid, smp)
	}
	return valid, rejected
}
