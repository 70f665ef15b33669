package ingest

import (
	"fmt"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// maxLiveness bounds the liveness records of one batch: a day of minutes,
// what an agent keeps while its buffer refuses writes.
const maxLiveness = 1440

// validateLiveness checks the liveness records of a batch: how many, and
// their point IDs.
func validateLiveness(ls []*lifelinev1.Liveness) error {
	if len(ls) > maxLiveness {
		return fmt.Errorf("liveness: %d records, more than %d", len(ls), maxLiveness)
	}
	for i, l := range ls {
		if n := len(l.GetPointIds()); n > maxPoints {
			return fmt.Errorf("liveness[%d].point_ids: %d, more than %d", i, n, maxPoints)
		}
		for _, p := range l.GetPointIds() {
			if err := validateID(p); err != nil {
				return fmt.Errorf("liveness[%d].point_ids: %w", i, err)
			}
		}
	}
	return nil
}

// dropBadLiveness leaves out of a batch the liveness records whose minute
// is not a plausible time (an agent with a wrong clock), as gaps are: the
// batch itself is kept.
func (s *Service) dropBadLiveness(site string, batch *lifelinev1.Batch, now time.Time) {
	kept := batch.Liveness[:0]
	var first string
	for _, l := range batch.GetLiveness() {
		if w := s.rules.checkTime("minute", l.GetMinuteNs(), now); w != "" {
			if first == "" {
				first = w
			}
			continue
		}
		kept = append(kept, l)
	}
	if dropped := len(batch.GetLiveness()) - len(kept); dropped > 0 {
		s.logger.Warn("rejected liveness records", "site", site, "seq", batch.GetSeq(), "count", dropped, "first_reason", first)
	}
	batch.Liveness = kept
}
