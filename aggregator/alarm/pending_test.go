package alarm

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// A pending event comes back from its checkpoint row as it went in: NaN
// (no limit, no clear value), infinite limits and Chinese text included.
func TestPendingEventRoundTrip(t *testing.T) {
	for _, ev := range []store.AlarmEvent{
		{SiteID: "S1", PointID: "LT-101", Condition: H, Priority: 2, Active: true, RaisedNs: 1, Value: 85.5,
			Limit: 80, Deadband: 1, Peak: 86, ClearValue: 0, Backfill: true,
			Kind: "液位", Unit: "米", HazardCode: "HS-01", Equipment: "1号储罐"},
		{SiteID: "S1", Condition: CommLoss, Priority: 1, RaisedNs: 5, ClearedNs: 9, Value: math.NaN(),
			Limit: math.NaN(), ClearValue: math.NaN(), EndReason: "connected"},
		{SiteID: "S1", PointID: "P", Condition: L, RaisedNs: 5, ClearedNs: 6, Value: -1e308,
			Limit: math.Inf(-1), Peak: math.Inf(1), ClearValue: 5e-324, EndReason: "value"},
	} {
		data, err := json.Marshal(pendingOf(ev))
		if err != nil {
			t.Fatal(err)
		}
		var p pendingEvent
		if err := json.Unmarshal(data, &p); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		got := p.event(ev.SiteID)
		if !sameEvent(got, ev) {
			t.Errorf("%s:\n got %+v\nwant %+v", data, got, ev)
		}
	}
}

func sameEvent(a, b store.AlarmEvent) bool {
	floats := [][2]float64{{a.Value, b.Value}, {a.Limit, b.Limit}, {a.Deadband, b.Deadband}, {a.Peak, b.Peak}, {a.ClearValue, b.ClearValue}}
	for _, f := range floats {
		if f[0] != f[1] && !(math.IsNaN(f[0]) && math.IsNaN(f[1])) {
			return false
		}
	}
	a.Value, a.Limit, a.Deadband, a.Peak, a.ClearValue = 0, 0, 0, 0, 0
	b.Value, b.Limit, b.Deadband, b.Peak, b.ClearValue = 0, 0, 0, 0, 0
	return a == b
}

// writes records the order of a checkpoint's writes.
type writes struct {
	Store
	calls []string
	rows  [][]store.AlarmState
}

func (w *writes) SaveAlarmStates(_ context.Context, rows []store.AlarmState) error {
	w.calls = append(w.calls, "states")
	w.rows = append(w.rows, rows)
	return nil
}

func (w *writes) SaveAlarmEvents(_ context.Context, events []store.AlarmEvent) error {
	for _, ev := range events {
		w.calls = append(w.calls, "event "+ev.SiteID+"/"+ev.PointID)
	}
	return nil
}

// An event is written after the state that decided it, which carries it;
// a tick's checkpoint for events writes only their sites, not the points
// of other sites whose standing alarms changed meanwhile.
func TestEventsFollowTheirSitesCheckpoint(t *testing.T) {
	ctx := context.Background()
	w := &writes{}
	e := New(w, DefaultOptions(), nil)
	c := &store.PointConfig{H: new(80.0)}
	e.install(configs{points: map[[2]string]*store.PointConfig{{"S1", "P1"}: c, {"S2", "P1"}: c},
		known: map[string]bool{"S1": true, "S2": true}, all: true})
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).UnixNano()
	sample := func(site string, seq uint64, ts int64, v float64) {
		e.evaluateBatch(ctx, &store.Batch{SiteID: site, Seq: seq, Samples: []*lifelinev1.Sample{
			{PointId: "P1", SourceTimeNs: ts, Value: &lifelinev1.Sample_Number{Number: v}}}}, true)
	}
	sample("S1", 1, t0, 85)
	if err := e.checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if want := []string{"states", "event S1/P1"}; !slices.Equal(w.calls, want) {
		t.Fatalf("writes %v, want %v", w.calls, want)
	}
	w.calls, w.rows = nil, nil
	sample("S1", 2, t0+1e9, 86) // S1/P1's standing alarm: its state changed
	sample("S2", 1, t0+1e9, 90)
	if err := e.checkpointEvents(ctx); err != nil {
		t.Fatal(err)
	}
	if want := []string{"states", "event S2/P1"}; !slices.Equal(w.calls, want) {
		t.Fatalf("writes %v, want %v", w.calls, want)
	}
	var saved []string
	for _, r := range w.rows[0] {
		saved = append(saved, r.SiteID+"/"+r.PointID)
		if r.PointID != "" {
			continue
		}
		var ss siteState
		if err := json.Unmarshal([]byte(r.State), &ss); err != nil {
			t.Fatal(err)
		}
		if len(ss.Pending) != 1 || ss.Pending[0].Point != "P1" || ss.Pending[0].Condition != H || !ss.Pending[0].Active {
			t.Errorf("%s's row carries %+v, want the raise", r.SiteID, ss.Pending)
		}
	}
	slices.Sort(saved)
	if want := []string{"S2/", "S2/P1"}; !slices.Equal(saved, want) {
		t.Errorf("checkpointed %v, want %v", saved, want)
	}
	// The full checkpoint takes S1 (its batch 2) and S1/P1, and S2's row
	// again without its event.
	w.calls, w.rows = nil, nil
	if err := e.checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	saved = saved[:0]
	for _, r := range w.rows[0] {
		saved = append(saved, r.SiteID+"/"+r.PointID)
		if r.PointID == "" && strings.Contains(r.State, `"pend"`) {
			t.Errorf("%s's row still carries events: %s", r.SiteID, r.State)
		}
	}
	slices.Sort(saved)
	if want := []string{"S1/", "S1/P1", "S2/"}; !slices.Equal(saved, want) {
		t.Errorf("checkpointed %v, want %v", saved, want)
	}
}
