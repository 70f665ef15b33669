package opcua

import (
	"context"
	"sync"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// GapRecorder keeps a record of data known lost. A Sink that implements it
// is told of every span during which its source could not be read, as a
// gap with reason GapSourceUnavailable.
type GapRecorder interface {
	RecordGap(g *lifelinev1.Gap)
}

// GapSourceUnavailable is the reason of a gap the reader records for the
// time its server could not be read.
const GapSourceUnavailable = "source_unavailable"

// maxGapPoints bounds the point list of one gap record. A source with more
// points is recorded with an empty list, which means the whole site: a
// record of a few hundred kilobytes would not fit a buffer entry.
const maxGapPoints = 5000

// outage follows a source's unavailability: from the last sign of life of
// the server (a publish response, a poll read, the end of a connect) until
// reading starts again. A first connection that succeeds at once is no
// outage; one that needs a retry is, from the moment the reader started.
type outage struct {
	mu      sync.Mutex
	contact time.Time // last sign of life; zero before the first
	since   time.Time // start of the current outage; zero while reading
	failed  bool      // an attempt failed since `since`
	// session is the delivering session (when it began delivering, Unix
	// ns; 0 while none),
	// ended the one that ended last, endedContact its last sign of life
	// and endedByStop whether the reader was stopping: a liveness record
	// settles against them (see alive.go).
	session      int64
	ended        int64
	endedContact time.Time
	endedByStop  bool
}

// touch notes a sign of life from the server.
func (o *outage) touch(at time.Time) {
	o.mu.Lock()
	if at.After(o.contact) {
		o.contact = at
	}
	o.mu.Unlock()
}

// began notes session as the delivering one.
func (o *outage) began(session int64) {
	o.mu.Lock()
	o.session = session
	o.mu.Unlock()
}

// current returns the delivering session (0 while none).
func (o *outage) current() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.session
}

// sessionEnded notes the delivering session as the last to end, with its
// last sign of life; byStop says the reader is stopping.
func (o *outage) sessionEnded(byStop bool) {
	o.mu.Lock()
	o.ended, o.endedContact, o.endedByStop = o.session, o.contact, byStop
	o.session = 0
	o.mu.Unlock()
}

// lastContact returns the last sign of life of session; over is true once
// it has ended, and byStop when the reader's stop ended it. A session
// that ended before the last to end has no known contact.
func (o *outage) lastContact(session int64) (at time.Time, over, byStop bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case session == o.session:
		return o.contact, false, false
	case session == o.ended:
		return o.endedContact, true, o.endedByStop
	}
	return time.Time{}, true, false
}

// starting marks the reader as not reading yet.
func (o *outage) starting(now time.Time) {
	o.mu.Lock()
	o.since, o.failed = now, false
	o.mu.Unlock()
}

// lost marks a failed attempt or a lost connection. A connection that
// was reading starts an outage at its last sign of life.
func (o *outage) lost(now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		o.since = now
		if !o.contact.IsZero() && o.contact.Before(now) {
			o.since = o.contact
		}
	}
	o.failed = true
}

// end closes the current outage at now and returns its span; ok is false
// when there was none to record.
func (o *outage) end(now time.Time) (from, to time.Time, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	from, ok = o.since, o.failed && !o.since.IsZero()
	o.since, o.failed = time.Time{}, false
	o.contact = now
	return from, now, ok
}

// down returns since when the source has been unavailable (zero while it
// is read, and while a first connection is still being made).
func (o *outage) down() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.failed {
		return time.Time{}
	}
	return o.since
}

// reading is called when a session starts delivering: the outage before
// it, if any, becomes a gap record.
func (r *Reader) reading() {
	now := time.Now()
	r.readingSinceNs.Store(now.UnixNano())
	r.connected.Store(true)
	from, to, ok := r.outage.end(now)
	r.outage.began(now.UnixNano())
	if !ok {
		return
	}
	r.outages.Add(1)
	r.logger.Warn("OPC UA source readable again; the outage is recorded as a gap",
		"from", from.UTC().Format(time.RFC3339Nano), "lasted", to.Sub(from).Round(time.Millisecond))
	r.gapFound(GapSourceUnavailable, from, to)
}

// notReading is called when a session that was delivering ends. Unless
// the reader is stopping, the outage starts here, before Connected turns
// false, so that no one sees the source down without a DownSince.
func (r *Reader) notReading(ctx context.Context) {
	r.outage.sessionEnded(ctx.Err() != nil)
	if ctx.Err() == nil {
		r.outage.lost(time.Now())
	}
	r.connected.Store(false)
}

// gapFound handles a span the source was not read. With history
// backfill on, the gap record waits for the backfill of its span (see
// backfill.go), unless the server is known to keep no history; otherwise
// it goes to the sink at once.
func (r *Reader) gapFound(reason string, from, to time.Time) {
	g := pendingGap{Reason: reason, FromNs: from.UnixNano(), ToNs: to.UnixNano()}
	switch {
	case r.hist == nil:
		r.recordGap(g, "", 0, nil)
	case r.noHistory.Load():
		r.recordGap(g, RecoveryNotAvailable, 0, nil)
	default:
		r.hist.addPending(g)
		if err := r.hist.save(false); err != nil {
			r.logger.Warn("gap waiting for history backfill not saved", "err", err)
		}
	}
}

// recordGap hands a gap for the source's points (or g.Points) to the
// sink, if it keeps gap records, saying what history backfill recovered.
func (r *Reader) recordGap(g pendingGap, recovery string, recovered uint64, unrecovered []string) {
	gr, ok := r.sink.(GapRecorder)
	if !ok {
		return
	}
	rec := &lifelinev1.Gap{FromNs: g.FromNs, ToNs: g.ToNs, Reason: g.Reason,
		Recovery: recovery, Recovered: recovered}
	points := g.Points
	if len(points) == 0 {
		// The backfill goroutine records gaps too: it reads the live
		// points' IDs as Run last published them, never r.src.
		points = *r.liveIDs.Load()
	}
	if len(points) <= maxGapPoints {
		rec.PointIds = points
		rec.UnrecoveredPointIds = unrecovered
	}
	gr.RecordGap(rec)
}

// stopped records an outage still open when the reader stops: it lasted
// at least until now.
func (r *Reader) stopped() {
	if from, to, ok := r.outage.end(time.Now()); ok {
		r.outages.Add(1)
		r.gapFound(GapSourceUnavailable, from, to)
	}
}
