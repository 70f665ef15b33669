package opcua

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// A subscription can go "silently dead": the server keeps answering
// publish requests with keep-alives, so the watchdog is satisfied, but it
// no longer sends the data changes of the monitored items. The liveness
// check finds it by reading a few monitored points directly (on each
// heartbeat) and comparing them with what the subscription delivered.

// livenessSample is how many points one heartbeat reads at most.
const livenessSample = 10

// pendingChange is a value seen on the server that the subscription had
// not delivered yet.
type pendingChange struct {
	sourceNs int64     // the server's source time of the value
	seen     time.Time // when the read saw it
}

// liveCheck compares a rotating sample of monitored points with the
// subscription's deliveries. Only the heartbeat's goroutine uses it.
type liveCheck struct {
	r     *Reader
	nodes []*ua.NodeID // per point index
	// ids are the point IDs per index, copied: the reader's source
	// changes under an update while the heartbeat runs.
	ids []string
	// points are the indexes that can be checked: monitored, and without
	// a deadband (a change within the deadband is rightly not sent).
	points []int
	// grace[i] is how long point i's change may take to arrive: its
	// (revised) sampling interval plus watchdogFactor publishing intervals.
	grace   map[int]time.Duration
	next    int
	pending map[int]pendingChange
	// subOf[i] is point i's subscription, whose progress tells a late
	// subscription from a silent one.
	subOf []*subscription
}

// progress is when a subscription last delivered data, written by the
// subscriptions' loop and read by the heartbeat.
type progress struct {
	dataAt atomic.Int64 // receive time of its last data change message, Unix ns
}

func (p *progress) note(received time.Time, batch []*lifelinev1.Sample) {
	if len(batch) > 0 {
		p.dataAt.Store(received.UnixNano())
	}
}

// late reports whether the subscription has delivered data since the
// change c was seen: it is working through the values its server queued
// (a backlog after a stall, large responses split over several publishes,
// items sent one after the other), late but not silent. A silent one
// answers with keep-alives only.
func (p *progress) late(c pendingChange) bool {
	return p.dataAt.Load() > c.seen.UnixNano()
}

// A late subscription is given lateFactor times a point's grace, and never
// less than minLateWait, to work through its backlog: beyond that, an item
// still behind while its subscription delivers others has stopped on its
// own (a server that dropped the monitored item), which is as silent.
const (
	lateFactor  = 20
	minLateWait = 30 * time.Second
)

// silent decides a point whose newer server value has waited that long to
// be delivered.
func silent(waited, grace time.Duration, late bool) bool {
	if late {
		return waited > max(lateFactor*grace, minLateWait)
	}
	return waited > grace
}

// newLiveCheck returns the check for the subscriptions s, or nil when no point
// can be checked.
func newLiveCheck(s *subscriptions, nodes []*ua.NodeID) *liveCheck {
	lc := &liveCheck{r: s.r, nodes: nodes, ids: pointIDs(s.r.src.Points), grace: map[int]time.Duration{}, pending: map[int]pendingChange{}, subOf: slices.Clone(s.subOf)}
	for i, ok := range s.monitored {
		if !ok || s.r.src.Points[i].Deadband != nil {
			continue
		}
		lc.points = append(lc.points, i)
		lc.grace[i] = s.sampling[i] + watchdogFactor*s.publishingInterval
	}
	if len(lc.points) == 0 {
		return nil
	}
	return lc
}

// batch picks the points to read: those with a pending change first, then
// the next ones in turn.
func (lc *liveCheck) batch() []int {
	n := min(livenessSample, len(lc.points))
	out := make([]int, 0, n)
	for i := range lc.pending {
		if len(out) == n {
			return out
		}
		out = append(out, i)
	}
	for tries := 0; len(out) < n && tries < len(lc.points); tries++ {
		i := lc.points[lc.next]
		lc.next = (lc.next + 1) % len(lc.points)
		if _, ok := lc.pending[i]; !ok {
			out = append(out, i)
		}
	}
	return out
}

// errSubscriptionSilent reports a subscription that delivers no data
// changes although the server's values change.
type errSubscriptionSilent struct {
	point     string
	server    time.Time
	delivered time.Time
	waited    time.Duration
}

func (e *errSubscriptionSilent) Error() string {
	return fmt.Sprintf("subscription silent: point %s changed on the server at %s but the last value delivered is from %s (waited %s): subscription presumed dead",
		e.point, e.server.UTC().Format(time.RFC3339Nano), e.delivered.UTC().Format(time.RFC3339Nano), e.waited.Round(time.Millisecond))
}

// check reads a sample of points and returns an *errSubscriptionSilent
// when one of them has held a value on the server, newer than and different
// from the last delivered, for longer than its grace period. A failed read
// is not a verdict (the heartbeat judges the session) and returns nil.
func (lc *liveCheck) check(ctx context.Context, c *opcua.Client, timeout time.Duration) error {
	pts := lc.batch()
	req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth}
	for _, i := range pts {
		req.NodesToRead = append(req.NodesToRead, &ua.ReadValueID{NodeID: lc.nodes[i], AttributeID: ua.AttributeIDValue})
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	res, err := c.Read(cctx, req)
	cancel()
	now := time.Now()
	if err != nil || len(res.Results) != len(pts) {
		return nil
	}
	for j, dv := range res.Results {
		i := pts[j]
		srcNs, status, value, ok := lc.r.states.delivered(i)
		if !ok || dv == nil {
			continue // nothing delivered yet: the initial value is on its way
		}
		s, _ := newSample("", dv, now)
		p, isPending := lc.pending[i]
		if isPending && srcNs >= p.sourceNs {
			delete(lc.pending, i) // the subscription caught up
			isPending = false
		}
		if (s.Status == status && sameValue(sampleValue(s), value)) || s.SourceTimeNs <= srcNs {
			delete(lc.pending, i) // nothing newer than what was delivered
			continue
		}
		if !isPending {
			lc.pending[i] = pendingChange{sourceNs: s.SourceTimeNs, seen: now}
			continue
		}
		late := i < len(lc.subOf) && lc.subOf[i] != nil && lc.subOf[i].progress.late(p)
		if waited := now.Sub(p.seen); silent(waited, lc.grace[i], late) {
			return &errSubscriptionSilent{
				point:     lc.ids[i],
				server:    time.Unix(0, s.SourceTimeNs),
				delivered: time.Unix(0, srcNs),
				waited:    waited,
			}
		}
	}
	return nil
}
