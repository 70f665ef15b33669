package opcua

import (
	"sync"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// PointState is what the reader last saw of one point.
type PointState struct {
	PointID string
	// LastSample is when the last sample of the point was received (zero
	// if none yet); LastChange is when its value or status last changed.
	// A point whose samples keep coming with a Good status but whose
	// LastChange is old is "good but frozen": a stuck transmitter or a
	// server that stopped updating it.
	LastSample time.Time
	LastChange time.Time
	// Status is the OPC UA status code of the last sample.
	Status uint32
	// Value is the last value (float64, bool, string or nil) and
	// SourceTime its source timestamp; both are filled by PointStates only.
	Value      any
	SourceTime time.Time
}

// pointStates tracks the last value of every point. deliver updates it
// once per notification message; PointStates reads it from any goroutine.
type pointStates struct {
	mu     sync.Mutex
	index  map[string]int
	states []PointState
	last   []value // the last value
	source []int64 // the source time of the last sample (Unix ns)
	// prev is the source time of the last sample in a liveness span before
	// source's: a span's record is written a little after it ends, when
	// values of the next span may have come already.
	prev   []int64
	span   time.Duration // the liveness span; 0 until liveness runs
	gone   []bool        // removed from the configuration (see Update)
	lastNs int64         // receive time of the last sample of any point
}

func newPointStates(ids []string) *pointStates {
	p := &pointStates{index: make(map[string]int, len(ids)), states: make([]PointState, len(ids)), last: make([]value, len(ids)),
		source: make([]int64, len(ids)), prev: make([]int64, len(ids)), gone: make([]bool, len(ids))}
	for i, id := range ids {
		p.index[id] = i
		p.states[i].PointID = id
	}
	return p
}

// add appends a point, whose handle is the next index.
func (p *pointStates) add(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.index[id] = len(p.states)
	p.states = append(p.states, PointState{PointID: id})
	p.last = append(p.last, value{})
	p.source = append(p.source, 0)
	p.prev = append(p.prev, 0)
	p.gone = append(p.gone, false)
}

// setSpan sets the liveness span whose boundaries prev follows.
func (p *pointStates) setSpan(d time.Duration) {
	p.mu.Lock()
	p.span = d
	p.mu.Unlock()
}

// sourceIn reports whether point i's last value, or its last value of the
// span before, has a source time in [start, end).
func (p *pointStates) sourceIn(i int, start, end int64) bool {
	in := func(ns int64) bool { return ns >= start && ns < end }
	return in(p.source[i]) || in(p.prev[i])
}

// setGone marks point i removed from, or back in, the configuration.
func (p *pointStates) setGone(i int, gone bool) {
	p.mu.Lock()
	p.gone[i] = gone
	p.mu.Unlock()
}

func sampleValue(s *lifelinev1.Sample) any {
	switch v := s.Value.(type) {
	case *lifelinev1.Sample_Number:
		return v.Number
	case *lifelinev1.Sample_Flag:
		return v.Flag
	case *lifelinev1.Sample_Text:
		return v.Text
	}
	return nil
}

// value is a sample's value held without boxing it in an interface, so
// that keeping the last one allocates nothing on the hot path.
type value struct {
	kind uint8 // valueNone, valueNumber, valueFlag or valueText
	num  float64
	text string
}

const (
	valueNone = iota
	valueNumber
	valueFlag
	valueText
)

func lastValueOf(s *lifelinev1.Sample) value {
	switch v := s.Value.(type) {
	case *lifelinev1.Sample_Number:
		return value{kind: valueNumber, num: v.Number}
	case *lifelinev1.Sample_Flag:
		if v.Flag {
			return value{kind: valueFlag, num: 1}
		}
		return value{kind: valueFlag}
	case *lifelinev1.Sample_Text:
		return value{kind: valueText, text: v.Text}
	}
	return value{}
}

// same compares two values; NaN equals NaN (a stuck NaN is frozen too).
func (a value) same(b value) bool {
	return a.kind == b.kind && a.text == b.text && (a.num == b.num || (a.num != a.num && b.num != b.num))
}

// any returns the value as float64, bool, string or nil.
func (a value) any() any {
	switch a.kind {
	case valueNumber:
		return a.num
	case valueFlag:
		return a.num != 0
	case valueText:
		return a.text
	}
	return nil
}

func (p *pointStates) update(batch []*lifelinev1.Sample) {
	p.updateAt(batch, p.handles(batch))
}

// handles returns the index of each sample's point, -1 for a point the
// reader does not know.
func (p *pointStates) handles(batch []*lifelinev1.Sample) []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]int32, len(batch))
	for k, s := range batch {
		i, ok := p.index[s.PointId]
		if !ok {
			i = -1
		}
		out[k] = int32(i)
	}
	return out
}

// updateAt is update for samples whose points' indexes are known:
// handles[k] is batch[k]'s, or negative when the point is unknown.
func (p *pointStates) updateAt(batch []*lifelinev1.Sample, handles []int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, s := range batch {
		i := int(handles[k])
		if i < 0 || i >= len(p.states) {
			continue
		}
		st := &p.states[i]
		v := lastValueOf(s)
		at := time.Unix(0, s.ReceiveTimeNs)
		if st.LastSample.IsZero() || st.Status != s.Status || !p.last[i].same(v) {
			st.LastChange = at
		}
		if old := p.source[i]; p.span > 0 && old != 0 && !sameSpan(old, s.SourceTimeNs, p.span) {
			p.prev[i] = old
		}
		st.LastSample, st.Status, p.last[i], p.source[i] = at, s.Status, v, s.SourceTimeNs
		p.lastNs = max(p.lastNs, s.ReceiveTimeNs)
	}
}

// sameSpan reports whether source times a and b fall into one liveness
// span, aligned as runLiveness aligns them.
func sameSpan(a, b int64, span time.Duration) bool {
	return time.Unix(0, a).Truncate(span).Equal(time.Unix(0, b).Truncate(span))
}

// delivered returns what was last delivered of point i: its source time,
// status and value; ok is false before its first sample.
func (p *pointStates) delivered(i int) (sourceNs int64, status uint32, value any, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.states[i].LastSample.IsZero() {
		return 0, 0, nil, false
	}
	return p.source[i], p.states[i].Status, p.last[i].any(), true
}

// sameValue compares two sample values; NaN equals NaN (a stuck NaN is
// frozen too).
func sameValue(a, b any) bool {
	if fa, ok := a.(float64); ok {
		if fb, ok := b.(float64); ok {
			return fa == fb || (fa != fa && fb != fb)
		}
	}
	return a == b
}

// PointStates returns the state of every configured point, with its last
// value, in the order the points were configured (points added by Update
// come last). It copies under the lock the hot path takes, so it is meant
// for a status view every second or so, not for every sample.
func (r *Reader) PointStates() []PointState {
	p := r.states
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PointState, 0, len(p.states))
	for i, st := range p.states {
		if p.gone[i] {
			continue
		}
		if !st.LastSample.IsZero() {
			st.Value, st.SourceTime = p.last[i].any(), time.Unix(0, p.source[i])
		}
		out = append(out, st)
	}
	return out
}

// Frozen lists the points that delivered samples but whose value and
// status have not changed for longer than d at time now.
func (r *Reader) Frozen(d time.Duration, now time.Time) []PointState {
	var out []PointState
	for _, st := range r.PointStates() {
		if !st.LastChange.IsZero() && now.Sub(st.LastChange) > d {
			out = append(out, st)
		}
	}
	return out
}

// deliver hands a batch read live to the sink and records it.
func (r *Reader) deliver(batch []*lifelinev1.Sample) {
	if len(batch) == 0 {
		return
	}
	r.deliverAt(batch, r.states.handles(batch))
}

// deliverAt is deliver for samples whose points' indexes (their client
// handles) the caller knows, handles[k] being batch[k]'s: the subscription
// path, where looking 100,000 point IDs a second up in maps cost more than
// the rest of the bookkeeping.
func (r *Reader) deliverAt(batch []*lifelinev1.Sample, handles []int32) {
	if len(batch) == 0 {
		return
	}
	r.states.updateAt(batch, handles)
	r.deliverMu.Lock()
	r.sink.Write(batch)
	r.deliverMu.Unlock()
	if r.hist != nil {
		r.hist.note(batch)
	}
	if lm := r.live.Load(); lm != nil {
		lm.noteAt(handles, batch)
	}
	r.received.Add(uint64(len(batch)))
}

// PointStatesOf returns the states of the points named, in that order,
// with their last values, under one lock. A point the reader does not
// read (unknown, or removed by Update) comes back with only its ID, so the
// result lines up with ids.
func (r *Reader) PointStatesOf(ids []string) []PointState {
	p := r.states
	out := make([]PointState, len(ids))
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, id := range ids {
		i, ok := p.index[id]
		if !ok || p.gone[i] {
			out[k].PointID = id
			continue
		}
		st := p.states[i]
		if !st.LastSample.IsZero() {
			st.Value, st.SourceTime = p.last[i].any(), time.Unix(0, p.source[i])
		}
		out[k] = st
	}
	return out
}

// deliverHistory hands a batch read from the server's history to the
// sink. It leaves the points' states alone: they describe the present.
func (r *Reader) deliverHistory(batch []*lifelinev1.Sample) {
	if len(batch) == 0 {
		return
	}
	r.deliverMu.Lock()
	r.sink.Write(batch)
	r.deliverMu.Unlock()
	r.received.Add(uint64(len(batch)))
	r.historyRecovered.Add(uint64(len(batch)))
}

// liveMarks holds the source time of each point's first live value in a
// session: where its backfill window ends.
type liveMarks struct {
	mu    sync.Mutex
	first []int64
}

func (m *liveMarks) note(index map[string]int, batch []*lifelinev1.Sample) {
	handles := make([]int32, len(batch))
	for k, s := range batch {
		i, ok := index[s.GetPointId()]
		if !ok {
			i = -1
		}
		handles[k] = int32(i)
	}
	m.noteAt(handles, batch)
}

// noteAt is note with each sample's point index known (negative: unknown).
func (m *liveMarks) noteAt(handles []int32, batch []*lifelinev1.Sample) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, s := range batch {
		// A point added by Update during the session is not in its backfill.
		if i := int(handles[k]); i >= 0 && i < len(m.first) && m.first[i] == 0 {
			m.first[i] = max(s.GetSourceTimeNs(), 1)
		}
	}
}

func (m *liveMarks) get() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int64(nil), m.first...)
}
