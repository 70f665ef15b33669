package ingest

import (
	"fmt"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Limits on the OPC UA condition events of one batch. The agent sends at
// most 1,000 a batch; the text limits are far above what a DCS sends and
// keep one event small.
const (
	maxConditionEvents = 5000
	maxEventIDLen      = 64   // bytes; servers use 16-20
	maxEventNameLen    = 512  // node IDs, names, event type
	maxEventMessageLen = 4096 // message
)

// validateConditionEvents checks the condition events of a batch: how
// many, and the size of their fields. Text is UTF-8 already (protobuf).
func validateConditionEvents(es []*lifelinev1.ConditionEvent) error {
	if len(es) > maxConditionEvents {
		return fmt.Errorf("condition_events: %d, more than %d", len(es), maxConditionEvents)
	}
	for i, e := range es {
		if n := len(e.GetEventId()); n == 0 || n > maxEventIDLen {
			return fmt.Errorf("condition_events[%d].event_id: %d bytes, want 1..%d", i, n, maxEventIDLen)
		}
		for _, f := range []struct{ name, v string }{
			{"source", e.GetSource()}, {"source_node", e.GetSourceNode()}, {"source_name", e.GetSourceName()},
			{"condition_id", e.GetConditionId()}, {"condition_name", e.GetConditionName()}, {"event_type", e.GetEventType()},
		} {
			if len(f.v) > maxEventNameLen {
				return fmt.Errorf("condition_events[%d].%s: %d bytes, more than %d", i, f.name, len(f.v), maxEventNameLen)
			}
		}
		if len(e.GetMessage()) > maxEventMessageLen {
			return fmt.Errorf("condition_events[%d].message: %d bytes, more than %d", i, len(e.GetMessage()), maxEventMessageLen)
		}
	}
	return nil
}

// dropBadConditionEvents leaves out of a batch the condition events whose
// time is not plausible (a server with a wrong clock), as gaps are: the
// batch itself is kept.
func (s *Service) dropBadConditionEvents(site string, batch *lifelinev1.Batch, now time.Time) {
	kept := batch.ConditionEvents[:0]
	var first string
	for _, e := range batch.GetConditionEvents() {
		if w := s.rules.checkTime("event", e.GetTimeNs(), now); w != "" {
			if first == "" {
				first = w
			}
			continue
		}
		kept = append(kept, e)
	}
	if dropped := len(batch.GetConditionEvents()) - len(kept); dropped > 0 {
		s.logger.Warn("rejected condition events", "site", site, "seq", batch.GetSeq(), "count", dropped, "first_reason", first)
	}
	batch.ConditionEvents = kept
}
