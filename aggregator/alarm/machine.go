package alarm

import (
	"math"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// Conditions an alarm can be raised for.
const (
	HH         = "HH"
	H          = "H"
	L          = "L"
	LL         = "LL"
	Stage1     = "stage1"
	Stage2     = "stage2"
	BadQuality = "bad_quality"
	Stale      = "stale"
	Frozen     = "frozen"
	CommLoss   = "comm_loss"
)

// Priority of a condition: 1 high, 2 medium, 3 low.
func Priority(condition string) uint8 {
	switch condition {
	case HH, LL, Stage2, CommLoss:
		return 1
	case H, L, Stage1, BadQuality:
		return 2
	default:
		return 3
	}
}

// limit is one configured limit of a point.
type limit struct {
	cond  string
	value float64
	high  bool
}

// limitSet is the configured limits of a point, held by value: the
// evaluator lists them for every sample, and a slice of them was a
// fifth of the aggregator's allocated bytes under load.
type limitSet struct {
	n   int
	all [6]limit
}

func (ls *limitSet) list() []limit { return ls.all[:ls.n] }

func (ls *limitSet) has(name string) bool {
	for _, l := range ls.list() {
		if l.cond == name {
			return true
		}
	}
	return false
}

// limits lists the configured limits of p.
func limits(p *store.PointConfig) limitSet {
	var ls limitSet
	add := func(cond string, v *float64, high bool) {
		if v != nil && !math.IsNaN(*v) {
			ls.all[ls.n] = limit{cond, *v, high}
			ls.n++
		}
	}
	add(HH, p.HH, true)
	add(H, p.H, true)
	add(L, p.L, false)
	add(LL, p.LL, false)
	add(Stage1, p.Stage1, true)
	add(Stage2, p.Stage2, true)
	return ls
}

// cond is the state of one condition of one point. Pending is the source
// time at which the value went beyond (while inactive) or returned (while
// active); 0 when nothing is pending.
type cond struct {
	Active   bool    `json:"a,omitempty"`
	Pending  int64   `json:"p,omitempty"`
	RaisedNs int64   `json:"r,omitempty"`
	Value    float64 `json:"v,omitempty"`
	Limit    float64 `json:"l,omitempty"`
	Deadband float64 `json:"d,omitempty"`
	Peak     float64 `json:"k,omitempty"`
	Backfill bool    `json:"b,omitempty"`
	// Shadow marks a history alarm inside a live one: never written.
	Shadow bool `json:"s,omitempty"`
	// Meta copied from the point at raise time.
	Kind       string `json:"kind,omitempty"`
	Unit       string `json:"unit,omitempty"`
	HazardCode string `json:"hz,omitempty"`
	Equipment  string `json:"eq,omitempty"`
}

// machine is the alarm state of one point over source time.
type machine struct {
	LastNs    int64            `json:"t,omitempty"`
	LastValue float64          `json:"v,omitempty"`
	Conds     map[string]*cond `json:"c,omitempty"`
	// AliveNs is the end of the newest minute the agent reported the point
	// alive without a change (liveness): its value held until then.
	AliveNs int64 `json:"al,omitempty"`
	// History evaluates samples older than LastNs (back-filled data).
	History *machine `json:"h,omitempty"`
	// HistoryIdle counts ticks without history input; at historyIdleTicks
	// the history's open alarms are closed.
	HistoryIdle int `json:"hi,omitempty"`
	// Ended holds the latest cleared spans per condition, so that history
	// arriving late does not raise an alarm inside one (behind.go).
	Ended map[string][]span `json:"e,omitempty"`

	// Checkpoint bookkeeping, kept here rather than in maps of every
	// point: marked says what changed since the checkpoint, saved is
	// LastNs at the last one.
	marked mark
	saved  int64
}

// mark is what changed in a machine since its checkpoint.
type mark uint8

const (
	unchanged  mark = iota
	clockMoved      // only LastNs: checkpointed every progressEvery
	changed         // anything else: checkpointed next time
)

// touch records a change; significant is more than the clock.
func (m *machine) touch(significant bool) {
	if significant {
		m.marked = changed
	} else if m.marked == unchanged {
		m.marked = clockMoved
	}
}

// sample is the part of a sample alarm evaluation reads.
type sample struct {
	ts       int64
	value    float64
	prev     float64 // the point's value before this sample (held until ts)
	numeric  bool
	good     bool
	backfill bool
}

// emitter receives the events a machine produces.
type emitter func(store.AlarmEvent)

func (m *machine) cond(name string) *cond {
	if m.Conds == nil {
		m.Conds = map[string]*cond{}
	}
	c := m.Conds[name]
	if c == nil {
		c = &cond{}
		m.Conds[name] = c
	}
	return c
}

// delays are the on- and off-delay in ns.
type delays struct{ on, off int64 }

// evaluate runs one in-order sample (s.ts > m.LastNs) through m.
func (m *machine) evaluate(p *store.PointConfig, s sample, d delays, emit emitter) {
	m.LastNs = s.ts
	s.prev = m.LastValue
	if s.numeric {
		m.LastValue = s.value
	}
	if outOfService(p, s.ts) {
		for name, c := range m.Conds {
			if c.Active {
				m.clear(p, name, c, s.ts, s.value, "out_of_service", emit)
			}
			c.Pending = 0
		}
		return
	}
	if c := m.Conds[Stale]; c != nil && c.Active {
		m.clear(p, Stale, c, s.ts, s.value, "data", emit)
	}
	m.step(p, BadQuality, !s.good, s.good, s, math.NaN(), 0, d, emit)
	if !s.good || !s.numeric {
		return
	}
	lims := limits(p)
	for _, l := range lims.list() {
		var beyond, returned bool
		if l.high {
			beyond, returned = s.value >= l.value, s.value < l.value-p.Deadband
		} else {
			beyond, returned = s.value <= l.value, s.value > l.value+p.Deadband
		}
		m.step(p, l.cond, beyond, returned, s, l.value, p.Deadband, d, emit)
	}
	// A limit no longer configured cannot stay active.
	for name, c := range m.Conds {
		switch name {
		case HH, H, L, LL, Stage1, Stage2:
			if !lims.has(name) {
				if c.Active {
					m.clear(p, name, c, s.ts, s.value, "limit_removed", emit)
				}
				c.Pending = 0
			}
		}
	}
}

// step advances one condition with a sample that is beyond the limit,
// returned inside it (beyond the deadband), or neither (inside the
// deadband: nothing changes while active, a pending raise is cancelled).
func (m *machine) step(p *store.PointConfig, name string, beyond, returned bool, s sample, lim, db float64, d delays, emit emitter) {
	c := m.Conds[name]
	if c == nil {
		if !beyond {
			return
		}
		c = m.cond(name)
	}
	if m.settle(p, name, c, beyond, returned, s, lim, db, d, emit) {
		// The state changed before this sample: judge it again.
		m.step(p, name, beyond, returned, s, lim, db, d, emit)
		return
	}
	if !c.Active {
		if !beyond {
			c.Pending = 0
			return
		}
		if c.Pending == 0 {
			c.Pending = s.ts
		}
		if s.ts-c.Pending >= d.on {
			m.raise(p, name, c, c.Pending+d.on, s.value, lim, db, s.backfill, emit)
		}
		return
	}
	if s.numeric && !math.IsNaN(lim) {
		if isHigh(name) && s.value > c.Peak || !isHigh(name) && s.value < c.Peak {
			c.Peak = s.value
		}
	}
	if !returned {
		c.Pending = 0
		return
	}
	if c.Pending == 0 {
		c.Pending = s.ts
	}
	if s.ts-c.Pending >= d.off {
		m.clear(p, name, c, c.Pending+d.off, s.value, endReason(name), emit)
	}
}

// settle decides a pending transition that this contrary sample would
// cancel, but only after its delay ran out. Between two samples the value
// held (a subscription reports changes only, so the return is the next
// sample): a condition beyond the limit from onset until this sample's
// source time held longer than the on-delay and is raised at onset plus
// delay; likewise a return that held longer than the off-delay clears at
// return plus delay. It reports whether it changed the condition.
func (m *machine) settle(p *store.PointConfig, name string, c *cond, beyond, returned bool, s sample, lim, db float64, d delays, emit emitter) bool {
	if c.Pending == 0 {
		return false
	}
	switch {
	case !c.Active && !beyond && s.ts-c.Pending > d.on:
		m.raise(p, name, c, c.Pending+d.on, s.prev, lim, db, s.backfill, emit)
		return true
	case c.Active && !returned && s.ts-c.Pending > d.off:
		m.clear(p, name, c, c.Pending+d.off, s.prev, endReason(name), emit)
		return true
	}
	return false
}

// endReason is why a condition cleared on its own.
func endReason(name string) string {
	if name == BadQuality {
		return "quality"
	}
	return "value"
}

func isHigh(name string) bool {
	switch name {
	case L, LL:
		return false
	}
	return true
}

// elapse raises conditions whose on-delay passed without a contrary
// sample by now (source-time clock), and clears those whose off-delay did.
func (m *machine) elapse(p *store.PointConfig, now int64, d delays, emit emitter) {
	for name, c := range m.Conds {
		if c.Pending == 0 || c.Pending > m.LastNs {
			continue
		}
		if !c.Active && d.on > 0 && now-c.Pending >= d.on {
			m.raise(p, name, c, c.Pending+d.on, m.LastValue, limitOf(p, name), p.Deadband, false, emit)
		} else if c.Active && d.off > 0 && now-c.Pending >= d.off {
			m.clear(p, name, c, c.Pending+d.off, m.LastValue, endReason(name), emit)
		}
	}
}

func limitOf(p *store.PointConfig, name string) float64 {
	lims := limits(p)
	for _, l := range lims.list() {
		if l.cond == name {
			return l.value
		}
	}
	return math.NaN()
}

func (m *machine) raise(p *store.PointConfig, name string, c *cond, at int64, value, lim, db float64, backfill bool, emit emitter) {
	if math.IsNaN(value) {
		value = m.LastValue
	}
	// The state is checkpointed as JSON, which has no NaN: a condition
	// without a limit keeps 0 here and reports NaN in its events.
	if math.IsNaN(lim) {
		lim = 0
	}
	*c = cond{Active: true, RaisedNs: at, Value: value, Limit: lim, Deadband: db, Peak: value, Backfill: backfill,
		Kind: p.Kind, Unit: p.Unit, HazardCode: p.HazardCode, Equipment: p.Equipment}
	emit(c.event(p.SiteID, p.PointID, name, 0, 0, ""))
}

func (m *machine) clear(p *store.PointConfig, name string, c *cond, at int64, value float64, reason string, emit emitter) {
	if at < c.RaisedNs {
		at = c.RaisedNs
	}
	emit(c.event(p.SiteID, p.PointID, name, at, value, reason))
	m.remember(name, c.RaisedNs, at)
	delete(m.Conds, name)
}

func (c *cond) event(site, point, name string, clearedNs int64, clearValue float64, reason string) store.AlarmEvent {
	lim := c.Limit
	switch name {
	case HH, H, L, LL, Stage1, Stage2:
	default:
		lim = math.NaN()
	}
	return store.AlarmEvent{
		SiteID: site, PointID: point, Condition: name, Priority: Priority(name),
		Active: clearedNs == 0, RaisedNs: c.RaisedNs, ClearedNs: clearedNs,
		Value: c.Value, Limit: lim, Deadband: c.Deadband, Peak: c.Peak, ClearValue: clearValue,
		EndReason: reason, Backfill: c.Backfill,
		Kind: c.Kind, Unit: c.Unit, HazardCode: c.HazardCode, Equipment: c.Equipment,
	}
}

// closeAll clears every active condition at ts with reason.
func (m *machine) closeAll(p *store.PointConfig, ts int64, reason string, emit emitter) {
	for name, c := range m.Conds {
		if c.Active {
			m.clear(p, name, c, ts, m.LastValue, reason, emit)
		}
	}
	m.Conds = nil
}

func outOfService(p *store.PointConfig, ts int64) bool {
	if p.OutOfService {
		return true
	}
	for _, per := range p.OutOfServicePeriods {
		if per.Contains(ts) {
			return true
		}
	}
	return false
}
