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
	gone   []bool  // removed from the configuration (see Update)
	lastNs int64   // receive time of the last sample of any point
}

func newPointStates(ids []string) *pointStates {
	p := &pointStates{index: make(map[string]int, len(ids)), states: make([]PointState, len(ids)), last: make([]any, len(ids)),
		source: make([]int64, len(ids)), gone: make([]bool, len(ids))}
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
	p.last = append(p.last, nil)
	p.source = append(p.source, 0)
	p.gone = append(p.gone, false)
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

// PointStates returns the state of every configured point, in the order
// the points were configured (points added by Update come last).
func (r *Reader) PointStates() []PointState {
	r.states.mu.Lock()
	defer r.states.mu.Unlock()
	out := make([]PointState, 0, len(r.states.states))
	for i, st := range r.states.states {
		if !r.states.gone[i] {
			out = append(out, st)
		}
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

// deliver hands a batch to the sink and records it.
func (r *Reader) deliver(batch []*lifelinev1.Sample) {
	if len(batch) == 0 {
		return
	}
	r.states.update(batch)
	r.sink.Write(batch)
	r.received.Add(uint64(len(batch)))
}
