package ingest

import (
	"log/slog"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Causes of a stream refused for what its agent sent, beside the limits'
// causes in the cause label of lifeline_ingest_stream_refusals_total.
const (
	causeInvalidHello  = "invalid_hello"
	causeInvalidBatch  = "invalid_batch"
	causeInvalidStatus = "invalid_status"
	causeParkMismatch  = "park_mismatch"
	causeUnregistered  = "unregistered_site"
)

// refuse counts and logs, once, a stream ended for what its agent sent,
// and returns err for the handler to end the stream with. The site is
// quoted short: it may be what made the hello invalid.
func (s *Service) refuseSent(site, cause string, err error) error {
	s.metrics.refusals.WithLabelValues(cause).Inc()
	s.logger.Warn("refused agent stream", slog.String("site", quote(site)), slog.String("cause", cause), slog.Any("err", err))
	return err
}

// dropBadGaps leaves out of batch the gaps whose times cannot be stored,
// counting each and logging the first reason once per batch.
func (s *Service) dropBadGaps(site string, batch *lifelinev1.Batch, now time.Time) {
	if len(batch.GetGaps()) == 0 {
		return
	}
	kept, why := gapTimes(batch.GetGaps(), s.rules, now)
	batch.Gaps = kept
	if len(why) > 0 {
		s.metrics.rejectedGaps.Add(float64(len(why)))
		s.logger.Warn("rejected gaps", "site", site, "seq", batch.GetSeq(), "count", len(why), "first_reason", why[0])
	}
}
