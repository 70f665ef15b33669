package opcua

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// The last value of each point comes back as it was delivered, and only a
// change of value or status moves LastChange (NaN to NaN is no change).
func TestPointStatesLastValues(t *testing.T) {
	r := &Reader{states: newPointStates([]string{"N", "F", "T", "X"})}
	t0 := time.Unix(1_700_000_000, 0)
	deliver := func(at time.Time, samples ...*lifelinev1.Sample) {
		for _, s := range samples {
			s.ReceiveTimeNs, s.SourceTimeNs = at.UnixNano(), at.Add(-time.Second).UnixNano()
		}
		r.states.update(samples)
	}
	deliver(t0,
		&lifelinev1.Sample{PointId: "N", Value: &lifelinev1.Sample_Number{Number: math.NaN()}},
		&lifelinev1.Sample{PointId: "F", Value: &lifelinev1.Sample_Flag{Flag: true}},
		&lifelinev1.Sample{PointId: "T", Value: &lifelinev1.Sample_Text{Text: "通氯反应"}},
		&lifelinev1.Sample{PointId: "unknown", Value: &lifelinev1.Sample_Flag{Flag: true}})
	t1 := t0.Add(time.Minute)
	deliver(t1,
		&lifelinev1.Sample{PointId: "N", Value: &lifelinev1.Sample_Number{Number: math.NaN()}},
		&lifelinev1.Sample{PointId: "F", Value: &lifelinev1.Sample_Flag{Flag: false}},
		&lifelinev1.Sample{PointId: "T", Value: &lifelinev1.Sample_Text{Text: "通氯反应"}, Status: 0x80000000})

	st := r.PointStatesOf([]string{"N", "F", "T", "X", "unknown"})
	if len(st) != 5 || st[4].PointID != "unknown" || !st[4].LastSample.IsZero() {
		t.Fatalf("%d states: %+v", len(st), st)
	}
	if v, ok := st[0].Value.(float64); !ok || !math.IsNaN(v) || !st[0].LastChange.Equal(t0) || !st[0].LastSample.Equal(t1) {
		t.Errorf("N: %+v", st[0])
	}
	if st[1].Value != false || !st[1].LastChange.Equal(t1) || !st[1].SourceTime.Equal(t1.Add(-time.Second)) {
		t.Errorf("F: %+v", st[1])
	}
	if st[2].Value != "通氯反应" || st[2].Status != 0x80000000 || !st[2].LastChange.Equal(t1) {
		t.Errorf("T: %+v", st[2])
	}
	if st[3].Value != nil || !st[3].LastSample.IsZero() || !st[3].SourceTime.IsZero() {
		t.Errorf("X, never delivered: %+v", st[3])
	}
	if all := r.PointStates(); all[2].Value != "通氯反应" || all[1].Value != false {
		t.Errorf("PointStates: %+v", all)
	}
	if _, _, v, ok := r.states.delivered(1); !ok || v != false {
		t.Errorf("delivered F: %v %v", v, ok)
	}
}

// A point added by Update while a session's backfill runs has no place in
// that backfill's marks: noting its first value must not index past them.
func TestLiveMarksIgnorePointsAddedDuringTheSession(t *testing.T) {
	m := &liveMarks{first: make([]int64, 1)}
	index := map[string]int{"OLD": 0, "NEW": 1}
	m.note(index, []*lifelinev1.Sample{{PointId: "NEW", SourceTimeNs: 7}, {PointId: "OLD", SourceTimeNs: 5}})
	if got := m.get(); len(got) != 1 || got[0] != 5 {
		t.Fatalf("marks %v", got)
	}
}

// Subscribed values reach the points' states by client handle, not by
// point ID: every point's state must hold its own value, and a
// notification's samples must not lend each other their slab's numbers.
func TestSubscribedValuesReachTheirPointsStates(t *testing.T) {
	const n = 300
	vars := make([]testVar, n)
	src := plantSource("")
	src.Points = nil
	ids := make([]string, n)
	for i := range vars {
		vars[i] = testVar{name: fmt.Sprintf("V%04d", i), value: identityFloat(i + 1)}
		ids[i] = fmt.Sprintf("p%04d", i)
		src.Points = append(src.Points, config.Point{ID: ids[i], Node: node(vars[i].name)})
	}
	ts := startServer(t, serverOptions{vars: vars, update: 50 * time.Millisecond})
	src.Endpoint = ts.endpoint
	sink := &recorder{}
	r := New(src, sink, testLogger(t))
	start := time.Now()
	stop := running(t, r)
	waitFor(t, "3 samples of every point", 10*time.Second, func() bool {
		got := sink.samples(start)
		if len(got) < n {
			return false
		}
		for _, ss := range got {
			if len(ss) < 3 {
				return false
			}
		}
		return true
	})
	stop()
	got := sink.samples(start)
	for i, st := range r.PointStatesOf(ids) {
		ss := got[ids[i]]
		last := ss[len(ss)-1].GetNumber()
		if v, ok := st.Value.(float64); !ok || v != last || math.Floor(v/1e6) != float64(i+1) {
			t.Fatalf("%s: state %v, last sample %v (want %d·1e6 + n)", ids[i], st.Value, last, i+1)
		}
		for _, s := range ss {
			if math.Floor(s.GetNumber()/1e6) != float64(i+1) {
				t.Fatalf("%s: sample %v belongs to another point", ids[i], s.GetNumber())
			}
		}
	}
}

// A liveness record is written a little after its span ends: a point whose
// value in the span was followed by one of the next span before the record
// is not listed as alive without change, while a point with no value in the
// span is, whatever came before or after it.
func TestAliveWithoutChangeAfterTheSpanEnded(t *testing.T) {
	r := &Reader{states: newPointStates([]string{"CHANGING", "STEADY", "SKIPPED"})}
	r.states.setSpan(time.Minute)
	start := time.Unix(1_700_000_000, 0).Truncate(time.Minute)
	end := start.Add(time.Minute)
	r.outage.began(start.Add(-time.Hour).UnixNano())
	deliver := func(point string, source time.Time) {
		r.states.update([]*lifelinev1.Sample{{PointId: point, SourceTimeNs: source.UnixNano(), ReceiveTimeNs: source.UnixNano(),
			Value: &lifelinev1.Sample_Number{Number: float64(source.UnixNano())}}})
	}
	deliver("STEADY", start.Add(-10*time.Second))
	deliver("SKIPPED", start.Add(-30*time.Second))
	deliver("CHANGING", start.Add(40*time.Second))
	deliver("CHANGING", start.Add(50*time.Second))
	deliver("CHANGING", end.Add(100*time.Millisecond))
	deliver("CHANGING", end.Add(300*time.Millisecond))
	deliver("SKIPPED", end.Add(50*time.Millisecond))
	got, _ := r.aliveWithoutChange(start, end)
	if want := []string{"STEADY", "SKIPPED"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("alive without change %v, want %v", got, want)
	}
}
