package forward

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// Gap reasons of forward_gaps.
const (
	GapTooOld  = "older than max_backlog_age"
	GapRefused = "refused by the platform"
)

// sendLive sends the newest complete period. When more than one period is
// due (the platform or the forwarder was down), the older ones join the
// backlog, so current data always goes first.
func (r *runner) sendLive(ctx context.Context, now time.Time) error {
	if r.t.Dest[KindRealtime] == "" {
		return nil
	}
	p := r.t.Period.Nanoseconds()
	due := r.due(now)
	if due-r.live > p {
		r.pending = r.pending.add(span{r.live, due - p})
		r.live = due - p
	}
	if r.live >= due {
		return nil
	}
	defer r.observe(now)
	if err := r.sendPeriod(ctx, r.live); err != nil {
		return err
	}
	r.live += p
	return r.saveCursor(ctx, KindRealtime, r.live, r.pending)
}

// sendBacklog sends missed periods, oldest first, at most backlog_rate a
// second; periods older than max_backlog_age are recorded as a gap.
func (r *runner) sendBacklog(ctx context.Context, now time.Time) error {
	if r.tokenAt.IsZero() {
		r.tokenAt = now
	}
	r.tokens = min(r.tokens+now.Sub(r.tokenAt).Seconds()*r.t.BacklogRate, max(1, r.t.BacklogRate))
	r.tokenAt = now
	if len(r.pending) == 0 {
		return nil
	}
	// While the platform is down the backlog waits for a live message or a
	// heartbeat to get through, so the first message after the outage is
	// current data, not a backlog period that was waiting for the link. A
	// quiet target (no live data, no heartbeat) probes with the backlog
	// every heartbeat_every.
	if !r.failedAt.IsZero() && now.Sub(r.failedAt) < r.t.HeartbeatEvery {
		return nil
	}
	defer r.observe(now)
	p := r.t.Period.Nanoseconds()
	oldest := r.align(now.Add(-r.t.MaxBacklogAge).UnixNano())
	if s := r.pending[0]; s.from < oldest {
		gap := span{s.from, min(s.to, oldest)}
		if err := r.st.SaveForwardGaps(ctx, []store.ForwardGap{{Target: r.t.Name, Kind: KindRealtime,
			FromNs: gap.from, ToNs: gap.to, Reason: GapTooOld}}); err != nil {
			return err
		}
		r.logger.Warn("backlog given up", "from", time.Unix(0, gap.from).UTC(), "to", time.Unix(0, gap.to).UTC(), "reason", GapTooOld)
		r.trimPending(gap.to)
		if err := r.saveCursor(ctx, KindRealtime, r.live, r.pending); err != nil {
			return err
		}
	}
	// The backlog yields to live data after a while, and the cursor is
	// written once per step, not per period: a crash sends the step's
	// periods again, with their keys.
	until := time.Now().Add(min(r.t.Period/2, time.Second))
	sent := false
	var err error
	for r.tokens >= 1 && len(r.pending) > 0 && time.Now().Before(until) {
		from := r.pending[0].from
		if err = r.sendPeriod(ctx, from); err != nil {
			break
		}
		r.tokens--
		r.trimPending(from + p)
		sent = true
	}
	if sent {
		if serr := r.saveCursor(ctx, KindRealtime, r.live, r.pending); serr != nil {
			return errors.Join(err, serr)
		}
	}
	return err
}

// trimPending drops everything before ns from the pending spans.
func (r *runner) trimPending(ns int64) {
	for len(r.pending) > 0 && r.pending[0].to <= ns {
		r.pending = r.pending[1:]
	}
	if len(r.pending) > 0 && r.pending[0].from < ns {
		r.pending[0].from = ns
	}
}

// sendPeriod sends each reported point's newest value of the period
// starting at from, one message (or more, max_values) per enterprise. A
// message the platform refuses for good is recorded as a gap of its
// points; any other failure stops the period, which is sent again whole.
func (r *runner) sendPeriod(ctx context.Context, from int64) error {
	p := r.t.Period.Nanoseconds()
	vals, err := r.st.LatestValues(ctx, from, from+p)
	if err != nil {
		return err
	}
	bySite := map[string][]Value{}
	for _, v := range vals {
		si := r.reg.sites[v.SiteID]
		if si == nil {
			continue
		}
		pt, ok := si.points[v.PointID]
		if !ok {
			continue
		}
		bySite[v.SiteID] = append(bySite[v.SiteID], Value{
			Key:     idempotencyKey(r.t.Name, KindRealtime, v.SiteID, v.PointID, from),
			PointID: v.PointID, Code: pt.Code, Name: pt.Name, Unit: pt.Unit, Kind: pt.Kind,
			Time: time.Unix(0, v.TsNs), Value: v.Value, Text: v.Text, Type: v.Type, Good: v.Good, Status: v.Status,
		})
	}
	for _, site := range sortedKeys(bySite) {
		values := bySite[site]
		parts := (len(values) + r.t.MaxValues - 1) / r.t.MaxValues
		for i := 0; i < parts; i++ {
			chunk := values[i*r.t.MaxValues : min(len(values), (i+1)*r.t.MaxValues)]
			m := &Message{Kind: KindRealtime, Time: time.Unix(0, from), Enterprise: r.reg.sites[site].ent,
				Part: i + 1, Parts: parts, Values: chunk,
				Key: idempotencyKey(r.t.Name, KindRealtime, site, from, i+1)}
			if err := r.sendOrGap(ctx, m, from, from+p, chunk); err != nil {
				return err
			}
		}
	}
	r.sent++
	return nil
}

// sendOrGap sends m; a permanent refusal is recorded as a gap per value.
func (r *runner) sendOrGap(ctx context.Context, m *Message, from, to int64, values []Value) error {
	err := r.send(ctx, m)
	if err == nil || !isPermanent(err) {
		return err
	}
	r.logger.Warn("message refused for good", "kind", m.Kind, "key", m.Key, "err", err)
	gaps := make([]store.ForwardGap, 0, len(values))
	for _, v := range values {
		gaps = append(gaps, store.ForwardGap{Target: r.t.Name, Kind: m.Kind, SiteID: m.Enterprise.SiteID, PointID: v.PointID,
			FromNs: from, ToNs: to, Reason: GapRefused, Detail: truncate(err.Error(), 500)})
	}
	if len(values) == 0 {
		gaps = append(gaps, store.ForwardGap{Target: r.t.Name, Kind: m.Kind, SiteID: m.Enterprise.SiteID,
			FromNs: from, ToNs: to, Reason: GapRefused, Detail: truncate(err.Error(), 500)})
	}
	if serr := r.st.SaveForwardGaps(ctx, gaps); serr != nil {
		return fmt.Errorf("record refusal of %s: %w", m.Key, serr)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
