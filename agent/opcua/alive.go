package opcua

import (
	"context"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// LivenessRecorder keeps liveness records. A Sink that implements it is
// told after each minute which points were alive in it without sending a
// value: their source was read the whole minute (the subscription's
// publish responses and keep-alives, or the poll reads, kept coming) and
// their last value was Good, but it did not change. OPC UA reports changes
// only, so without this a steady tank level would count as offline.
type LivenessRecorder interface {
	RecordLiveness(l *lifelinev1.Liveness)
}

// livenessEvery is the span one liveness record covers.
const livenessEvery = time.Minute

// runLiveness records, at the end of every livenessEvery (aligned to the
// clock), the points alive without a change in it, until ctx is done.
func (r *Reader) runLiveness(ctx context.Context, lr LivenessRecorder) {
	every := r.livenessEvery
	r.states.setSpan(every)
	for {
		end := time.Now().Truncate(every).Add(every)
		t := time.NewTimer(time.Until(end))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		ids := r.aliveWithoutChange(end.Add(-every), end)
		for len(ids) > 0 { // records of at most maxGapPoints, as the aggregator takes them
			n := min(len(ids), maxGapPoints)
			lr.RecordLiveness(&lifelinev1.Liveness{MinuteNs: end.Add(-every).UnixNano(), PointIds: ids[:n]})
			ids = ids[n:]
		}
	}
}

// aliveWithoutChange lists the points alive in [start, end) that sent no
// value with a source time in it. None while the source was not read for
// all of it.
func (r *Reader) aliveWithoutChange(start, end time.Time) []string {
	since := r.readingSince.Load()
	if since == 0 || since > start.UnixNano() {
		return nil
	}
	s := r.states
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for i, st := range s.states {
		if st.LastSample.IsZero() || st.Status>>30 != 0 {
			continue // never read, or not Good
		}
		if s.sourceIn(i, start.UnixNano(), end.UnixNano()) {
			continue // a sample counts this minute already
		}
		ids = append(ids, st.PointID)
	}
	return ids
}
