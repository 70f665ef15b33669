package alarm

import (
	"context"
	"math"
	"time"
)

// historyIdleTicks: ticks without back-filled input after which the
// history machines close their open alarms.
const historyIdleTicks = 30

// pointTimers decides, for every point, the on/off delays that ran out,
// staleness, and the end of back-filled history that stopped arriving.
func (e *Evaluator) pointTimers(nowNs int64) {
	decided := nowNs - int64(e.opts.Grace)
	for key, pt := range e.points {
		m := pt.m
		if m == nil {
			continue // configured, never evaluated
		}
		var own time.Duration
		if pt.cfg != nil {
			own = pt.cfg.StaleAfter
		}
		staleAfter := pick(e.opts.StaleAfter, own)
		// A point reported alive without a change held its value: its
		// last sign of life is the later of its last sample and that.
		last := max(m.LastNs, m.AliveNs)
		staleDue := staleAfter > 0 && m.LastNs > 0 && decided-last >= staleAfter
		if len(m.Conds) == 0 && m.History == nil && !staleDue {
			continue // most points, most ticks: nothing can be due
		}
		pc := configOf(key, pt.cfg)
		p := &pc
		before := len(e.outbox)
		m.elapse(p, decided, e.delaysFor(p), e.emit)
		ss := e.sites[key[0]]
		commLost := ss != nil && ss.CommLoss != nil
		if staleDue && !commLost && !outOfService(p, nowNs) && (m.Conds[Stale] == nil || !m.Conds[Stale].Active) {
			m.raise(p, Stale, m.cond(Stale), last+staleAfter, m.LastValue, math.NaN(), 0, false, e.emit)
		}
		if m.History != nil {
			m.HistoryIdle++
			if m.HistoryIdle >= historyIdleTicks {
				m.History.closeAll(p, m.History.LastNs, "backfill_end", m.unshadowed(m.History, e.emit))
				m.History = nil
				m.HistoryIdle = 0
				m.touch(true)
			}
		}
		if len(e.outbox) != before {
			m.touch(true)
		}
	}
}

// commLoss raises comm_loss for every site silent (no batch, no heartbeat)
// for CommLossAfter.
func (e *Evaluator) commLoss(nowNs int64) {
	if e.opts.CommLossAfter <= 0 {
		return
	}
	for id, ss := range e.sites {
		if ss.CommLoss == nil && ss.LastBatch > 0 && nowNs-ss.LastBatch >= int64(e.opts.CommLossAfter) {
			c := &cond{Active: true, RaisedNs: ss.LastBatch + int64(e.opts.CommLossAfter)}
			ss.CommLoss = c
			e.emit(c.event(id, "", CommLoss, 0, 0, ""))
			e.dirtySites[id] = true
		}
	}
}

// heartbeatEvery is how often agent heartbeats are read (comm_loss,
// frozen); heartbeatWindow how far back at least.
const (
	heartbeatEvery  = 10 * time.Second
	heartbeatWindow = 5 * time.Minute
)

// heartbeats counts a connected agent's heartbeat (the agents table) as a
// sign of life like a batch: a plant whose values all hold steady sends no
// batches but is not out of communication. A heartbeat newer than an
// active comm_loss clears it.
func (e *Evaluator) heartbeats(ctx context.Context, now time.Time) {
	if now.Sub(e.lastHb) < heartbeatEvery {
		return
	}
	e.lastHb = now
	start := time.Now()
	last, err := e.st.LastHeartbeats(ctx, now.Add(-max(2*e.opts.CommLossAfter, heartbeatWindow)))
	e.waited("heartbeats", start)
	if err != nil {
		e.logger.Warn("read agent heartbeats", "err", err)
		return
	}
	// One pass over the points for all sites: scanning every point for
	// each site's heartbeat cost sites × points, seconds of CPU every
	// heartbeatEvery with a thousand sites connected.
	bySite := make(map[string][][2]string, len(last))
	for key, pt := range e.points {
		if _, ok := last[key[0]]; ok && pt.m != nil {
			bySite[key[0]] = append(bySite[key[0]], key)
		}
	}
	for id, hb := range last {
		if !e.own(ctx, id) {
			continue
		}
		e.frozen(bySite[id], hb.Frozen, now.UnixNano())
		ns := hb.LastNs
		ss := e.site(id)
		if ns <= ss.LastBatch {
			continue
		}
		ss.LastBatch = ns
		e.dirtySites[id] = true
		if c := ss.CommLoss; c != nil && ns > c.RaisedNs {
			ss.CommLoss = nil
			e.emit(c.event(id, "", CommLoss, ns, math.NaN(), "connected"))
		}
	}
}

// frozen raises "frozen" for those of a site's points (keys) its agent reports good but
// unchanging, and clears it for those it no longer reports. The agent
// judges freezing (it sees every sample); the aggregator keeps the alarm.
func (e *Evaluator) frozen(keys [][2]string, points []string, nowNs int64) {
	reported := make(map[string]bool, len(points))
	for _, id := range points {
		reported[id] = true
	}
	for _, key := range keys {
		pt := e.points[key]
		m := pt.m
		if m == nil {
			// Listed before own() adopted the site again, which forgot its
			// states and restored only the checkpointed ones.
			continue
		}
		pc := configOf(key, pt.cfg)
		p := &pc
		c := m.Conds[Frozen]
		active := c != nil && c.Active
		switch {
		case reported[key[1]] && !active && !outOfService(p, nowNs):
			m.raise(p, Frozen, m.cond(Frozen), nowNs, m.LastValue, math.NaN(), 0, false, e.emit)
			m.touch(true)
		case !reported[key[1]] && active:
			m.clear(p, Frozen, c, nowNs, m.LastValue, "changing", e.emit)
			m.touch(true)
		}
	}
}
