package alarm

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
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
