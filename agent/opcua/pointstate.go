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
}

// pointStates tracks the last value of every point. deliver updates it
// once per notification message; PointStates reads it from any goroutine.
type pointStates struct {
	mu     sync.Mutex
	index  map[string]int
	states []PointState
	last   []any   // the last value (float64, bool, string or nil)
	source []int64 // the source time of the last sample (Unix ns)
	lastNs int64   // receive time of the last sample of any point
}

func newPointStates(ids []string) *pointStates {
	p := &pointStates{index: make(map[string]int, len(ids)), states: make([]PointState, len(ids)), last: make([]any, len(ids)), source: make([]int64, len(ids))}
	for i, id := range ids {
		p.index[id] = i
		p.states[i].PointID = id
	}
	return p
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

func (p *pointStates) update(batch []*lifelinev1.Sample) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range batch {
		i, ok := p.index[s.PointId]
		if !ok {
			continue
		}
		st := &p.states[i]
		v := sampleValue(s)
		at := time.Unix(0, s.ReceiveTimeNs)
		if st.LastSample.IsZero() || st.Status != s.Status || !sameValue(p.last[i], v) {
			st.LastChange = at
		}
		st.LastSample, st.Status, p.last[i], p.source[i] = at, s.Status, v, s.SourceTimeNs
		p.lastNs = max(p.lastNs, s.ReceiveTimeNs)
	}
}

// delivered returns what was last delivered of point i: its source time,
// status and value; ok is false before its first sample.
func (p *pointStates) delivered(i int) (sourceNs int64, status uint32, value any, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.states[i].LastSample.IsZero() {
		return 0, 0, nil, false
	}
	return p.source[i], p.states[i].Status, p.last[i], true
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

// PointStates returns the state of every point in configuration order.
func (r *Reader) PointStates() []PointState {
	r.states.mu.Lock()
	defer r.states.mu.Unlock()
	return append([]PointState(nil), r.states.states...)
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
	r.states.update(batch)
	r.deliverMu.Lock()
	r.sink.Write(batch)
	r.deliverMu.Unlock()
	if r.hist != nil {
		r.hist.note(batch)
	}
	if lm := r.live.Load(); lm != nil {
		lm.note(r.states.index, batch)
	}
	r.received.Add(uint64(len(batch)))
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
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range batch {
		if i, ok := index[s.GetPointId()]; ok && m.first[i] == 0 {
			m.first[i] = max(s.GetSourceTimeNs(), 1)
		}
	}
}

func (m *liveMarks) get() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int64(nil), m.first...)
}
