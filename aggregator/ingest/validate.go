package ingest

import (
	"fmt"
	"math"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// sampleRules bounds what a sample may carry. Timestamps outside
// [oldest, now+maxFuture] are absurd: a wrong clock or a corrupt value.
type sampleRules struct {
	oldest    time.Time
	maxFuture time.Duration
	maxText   int
}

var defaultRules = sampleRules{
	oldest:    time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
	maxFuture: 24 * time.Hour,
	maxText:   4096,
}

// check returns why a sample cannot be stored, or "" when it can. Text is
// valid UTF-8 already: protobuf refuses to decode a string that is not.
func (r sampleRules) check(s *lifelinev1.Sample, known map[string]struct{}, now time.Time) string {
	if _, ok := known[s.GetPointId()]; !ok {
		return fmt.Sprintf("unknown point %q (not in the agent's hello catalog)", s.GetPointId())
	}
	ts := s.GetSourceTimeNs()
	if ts < r.oldest.UnixNano() || ts > now.Add(r.maxFuture).UnixNano() {
		return fmt.Sprintf("source timestamp %s is outside %s .. now+%s", time.Unix(0, ts).UTC().Format(time.RFC3339Nano), r.oldest.Format("2006-01-02"), r.maxFuture)
	}
	switch v := s.GetValue().(type) {
	case *lifelinev1.Sample_Number:
		if math.IsNaN(v.Number) || math.IsInf(v.Number, 0) {
			return fmt.Sprintf("value %v is not a finite number", v.Number)
		}
	case *lifelinev1.Sample_Text:
		if len(v.Text) > r.maxText {
			return fmt.Sprintf("text value of %d bytes exceeds %d", len(v.Text), r.maxText)
		}
	}
	return ""
}
