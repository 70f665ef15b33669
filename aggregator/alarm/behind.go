package alarm

import (
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// A sample older than its point's newest (back-filled after an outage, or
// re-sent after a restart while newer samples went first) is evaluated by
// the point's History machine. The live machine already judged that time
// from the samples around it, and where it had a condition active the
// history must not raise it again: an alarm is one span, however its
// samples arrived.

// maxSpans bounds the cleared spans a machine remembers per condition:
// back-filled data reaches only as far back as the outage it repairs.
const maxSpans = 4

// span is a cleared alarm of the live machine: raised at From, cleared at To.
type span struct {
	From int64 `json:"f"`
	To   int64 `json:"t"`
}

// activeSince reports whether the live machine had condition name active
// at ts, and since when.
func (m *machine) activeSince(name string, ts int64) (int64, bool) {
	if c := m.Conds[name]; c != nil && c.Active && c.RaisedNs <= ts {
		return c.RaisedNs, true
	}
	for _, sp := range m.Ended[name] {
		if sp.From <= ts && ts < sp.To {
			return sp.From, true
		}
	}
	return 0, false
}

// raisedBetween reports the earliest raise of condition name by the live
// machine within [from, to], active or cleared since. The history may
// step over a whole live alarm (its samples around it arrived before the
// live ones, or an aggregator restart replayed the live ones first): its
// own alarm still ends where the live one began.
func (m *machine) raisedBetween(name string, from, to int64) (int64, bool) {
	first, ok := int64(0), false
	consider := func(raised int64) {
		if raised >= from && raised <= to && (!ok || raised < first) {
			first, ok = raised, true
		}
	}
	if c := m.Conds[name]; c != nil && c.Active {
		consider(c.RaisedNs)
	}
	for _, sp := range m.Ended[name] {
		consider(sp.From)
	}
	return first, ok
}

// remember records that condition name was active from from to to.
func (m *machine) remember(name string, from, to int64) {
	if m.Ended == nil {
		m.Ended = map[string][]span{}
	}
	spans := append(m.Ended[name], span{From: from, To: to})
	if len(spans) > maxSpans {
		spans = spans[len(spans)-maxSpans:]
	}
	m.Ended[name] = spans
}

// behind runs s, older than m.LastNs, through m.History. A history alarm
// raised inside a live one is a shadow: kept in the history machine so
// that it is not raised again at the next sample, but never written. A
// history alarm still open when the history reaches a live one ends where
// the live one began, so the two spans meet without overlapping.
func (m *machine) behind(p *store.PointConfig, s sample, d delays, emit emitter) {
	h := m.History
	// Before the sample's own verdict: a value that clears the history
	// alarm after a live one began must not stretch it over the live one.
	for name, c := range h.Conds {
		if !c.Active || c.Shadow {
			continue
		}
		if from, ok := m.raisedBetween(name, c.RaisedNs, s.ts); ok {
			h.clear(p, name, c, from, s.value, "live_alarm", emit)
		}
	}
	h.evaluate(p, s, d, m.unshadowed(h, emit))
}

// unshadowed passes on the events of history machine h except those of
// its shadow alarms.
func (m *machine) unshadowed(h *machine, emit emitter) emitter {
	return func(ev store.AlarmEvent) {
		c := h.Conds[ev.Condition]
		if ev.Active {
			if _, ok := m.activeSince(ev.Condition, ev.RaisedNs); ok && c != nil {
				c.Shadow = true
				return
			}
		} else if c != nil && c.Shadow {
			return
		}
		emit(ev)
	}
}
