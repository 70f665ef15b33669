package alarm

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// evaluateBatch runs a batch through the state machines once; a batch
// already evaluated is skipped. live means it arrived just now (so it
// proves the site is communicating).
func (e *Evaluator) evaluateBatch(ctx context.Context, b *store.Batch, live bool) {
	e.evaluate(ctx, newCommittedBatch(b), live)
}

// evaluate is evaluateBatch of a batch already in the queue's form.
func (e *Evaluator) evaluate(ctx context.Context, b *committedBatch, live bool) {
	if !e.own(ctx, b.site) {
		return // another aggregator's site (see ownership.go)
	}
	ss := e.site(b.site)
	if ss.done(b.seq) {
		return
	}
	ss.add(b.seq)
	e.dirtySites[b.site] = true
	if live {
		now := e.opts.Now().UnixNano()
		ss.LastBatch = now
		if ss.CommLoss != nil {
			p := &store.PointConfig{SiteID: b.site}
			c := ss.CommLoss
			ss.CommLoss = nil
			e.emit(c.event(p.SiteID, "", CommLoss, max(now, c.RaisedNs), math.NaN(), "connected"))
		}
	}
	// A site that just announced its points: read them now rather than
	// at the next refresh, so its first samples meet their limits.
	if !e.known[b.site] {
		e.learn(ctx, slices.Values([]string{b.site}))
	}
	for _, ps := range b.samples {
		key := [2]string{b.site, ps.point}
		s := ps.sample
		pt := e.points[key]
		if pt.m == nil {
			pt.m = &machine{}
			e.points[internKey(key)] = pt
		}
		m := pt.m
		pc := configOf(key, pt.cfg)
		p := &pc
		d := e.delaysFor(p)
		quiet := len(m.Conds) == 0 && m.History == nil
		switch {
		case s.ts == m.LastNs:
			continue // a duplicate of the newest sample
		case s.ts > m.LastNs:
			m.evaluate(p, s, d, e.emit)
		default:
			if m.History == nil {
				m.History = &machine{}
			}
			m.HistoryIdle = 0
			if s.ts <= m.History.LastNs {
				continue
			}
			s.backfill = true
			m.behind(p, s, d, e.emit)
		}
		// A point with nothing active or pending only moved its clock:
		// checkpointed every progressEvery of source time, not each time.
		significant := !quiet || len(m.Conds) > 0 || m.History != nil
		m.touch(significant)
	}
	e.alive(b)
}

// alive records the minutes the agent knew points alive without a change:
// their value held, so the stale clock runs from the minute's end, and a
// stale alarm raised meanwhile (the liveness came late) clears.
func (e *Evaluator) alive(b *committedBatch) {
	for _, l := range b.liveness {
		end := l.GetMinuteNs() + int64(time.Minute)
		for _, id := range l.GetPointIds() {
			key := [2]string{b.site, id}
			pt := e.points[key]
			m := pt.m
			if m == nil || end <= m.AliveNs || end <= m.LastNs {
				continue
			}
			m.AliveNs = end
			m.touch(true)
			if c := m.Conds[Stale]; c != nil && c.Active && end > c.RaisedNs {
				p := configOf(key, pt.cfg)
				m.clear(&p, Stale, c, l.GetMinuteNs(), m.LastValue, "alive", e.emit)
			}
		}
	}
}

// emit counts an event and keeps it until the next flush.
func (e *Evaluator) emit(ev store.AlarmEvent) {
	if ev.Active {
		e.raised.Add(1)
		if e.metrics != nil {
			e.metrics.raised.WithLabelValues(ev.Condition).Inc()
		}
	} else {
		e.cleared.Add(1)
		if e.metrics != nil {
			e.metrics.cleared.WithLabelValues(ev.Condition).Inc()
		}
	}
	e.outbox = append(e.outbox, ev)
}

// sampleNumber returns the value limits are compared with: numbers as is,
// bools as 0/1; text and missing values are not numeric.
func sampleNumber(smp *lifelinev1.Sample) (float64, bool) {
	switch v := smp.GetValue().(type) {
	case *lifelinev1.Sample_Number:
		return v.Number, !math.IsNaN(v.Number) && !math.IsInf(v.Number, 0)
	case *lifelinev1.Sample_Flag:
		if v.Flag {
			return 1, true
		}
		return 0, true
	default:
		return math.NaN(), false
	}
}

// delaysFor returns the on- and off-delay of p: its own, or the default.
func (e *Evaluator) delaysFor(p *store.PointConfig) delays {
	return delays{on: pick(e.opts.OnDelay, p.OnDelay), off: pick(e.opts.OffDelay, p.OffDelay)}
}

// pick returns a point's own duration in ns when set (negative: off), or
// the default.
func pick(def, own time.Duration) int64 {
	switch {
	case own < 0:
		return 0
	case own > 0:
		return int64(own)
	}
	return int64(def)
}
