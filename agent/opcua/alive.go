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

// unsettled is a span's record that waits until the span is known to
// have been read to its end. A connection lost shortly before the end of
// a span is noticed only after it; the span's record is handed over once
// the server was heard from after the end in the same session, and
// dropped if that session ended first (its gap record starts at its last
// sign of life, inside the span).
type unsettled struct {
	start, end time.Time
	session    int64 // the session that read it (see outage.session)
	ids        []string
}

// runLiveness records, after the end of every livenessEvery (aligned to
// the clock), the points alive without a change in it, until ctx is done.
func (r *Reader) runLiveness(ctx context.Context, lr LivenessRecorder) {
	every := r.livenessEvery
	r.states.setSpan(every)
	recheck := min(every/10, time.Second) // while records wait
	limit := r.unsettledLimit(every)
	end := time.Now().Truncate(every).Add(every)
	var waiting []unsettled
	t := time.NewTimer(time.Until(end))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.settleLiveness(waiting, lr, true)
			return
		case <-t.C:
		}
		if now := time.Now(); !now.Before(end) {
			if ids, session := r.aliveWithoutChange(end.Add(-every), end); len(ids) > 0 {
				waiting = append(waiting, unsettled{start: end.Add(-every), end: end, session: session, ids: ids})
				if len(waiting) > limit {
					waiting = waiting[1:]
				}
			}
			end = now.Truncate(every).Add(every)
		}
		waiting = r.settleLiveness(waiting, lr, false)
		next := time.Until(end)
		if len(waiting) > 0 {
			next = min(next, recheck)
		}
		t.Reset(next)
	}
}

// unsettledLimit is how many records may wait: as many spans as the
// server may stay silent while read (a poll interval; a subscription's
// watchdog is under a minute) and a few more.
func (r *Reader) unsettledLimit(every time.Duration) int {
	n := 4
	if r.base.ReadMode == "poll" {
		n = max(n, int(r.base.PollInterval.D()/every)+3)
	}
	return n
}

// settleLiveness hands the waiting records whose span was read to its end
// to lr, drops those whose session ended before, and returns the others.
// At the reader's stop (final) nothing more will be heard: a session still
// reading, or ended by the stop, counts as read to the end, as the
// agent_stopped gap begins after it.
func (r *Reader) settleLiveness(waiting []unsettled, lr LivenessRecorder, final bool) []unsettled {
	for len(waiting) > 0 {
		w := waiting[0]
		heard, over, byStop := r.outage.lastContact(w.session)
		readToEnd := !heard.Before(w.end) || (final && (!over || byStop))
		if !readToEnd && !over {
			break
		}
		if readToEnd {
			for ids := w.ids; len(ids) > 0; { // records of at most maxGapPoints, as the aggregator takes them
				n := min(len(ids), maxGapPoints)
				lr.RecordLiveness(&lifelinev1.Liveness{MinuteNs: w.start.UnixNano(), PointIds: ids[:n]})
				ids = ids[n:]
			}
		}
		waiting = waiting[1:]
	}
	return waiting
}

// aliveWithoutChange lists the points alive in [start, end) that sent no
// value with a source time in it, and the session that read them. None
// while the source was not read since start.
func (r *Reader) aliveWithoutChange(start, end time.Time) (ids []string, session int64) {
	session = r.outage.current()
	if session == 0 || session > start.UnixNano() {
		return nil, 0
	}
	s := r.states
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, st := range s.states {
		if st.LastSample.IsZero() || st.Status>>30 != 0 {
			continue // never read, or not Good
		}
		if s.sourceIn(i, start.UnixNano(), end.UnixNano()) {
			continue // a sample counts this minute already
		}
		ids = append(ids, st.PointID)
	}
	return ids, session
}
