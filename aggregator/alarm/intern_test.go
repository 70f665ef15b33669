package alarm

import (
	"math"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// Points configured alike share one struct; any difference, a NaN limit
// included, keeps them apart; config gives each its own ids back.
func TestCompactSharesLikeConfigs(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	pcs := []store.PointConfig{
		{SiteID: "S", PointID: "A", Unit: "°C", H: f(80), Deadband: 1},
		{SiteID: "S", PointID: "B", Unit: "°C", H: f(80), Deadband: 1},
		{SiteID: "S", PointID: "C", Unit: "°C", H: f(81), Deadband: 1},
		{SiteID: "S", PointID: "D", Unit: "°C", H: f(80), HH: f(math.NaN()), Deadband: 1},
		{SiteID: "S", PointID: "E", Unit: "°C", H: f(80), Deadband: 1,
			OutOfServicePeriods: []store.Period{{From: 1, To: 2}}},
	}
	got := compact(pcs)
	key := func(id string) [2]string { return [2]string{"S", id} }
	if got[key("A")] != got[key("B")] {
		t.Error("A and B, configured alike, do not share")
	}
	if got[key("A")] == got[key("C")] || *got[key("C")].H != 81 {
		t.Error("C, with another limit, shares A's configuration")
	}
	if got[key("D")] != got[key("A")] {
		t.Error("D, whose NaN limit configures none, does not share A's")
	}
	if got[key("E")] == got[key("A")] || len(got[key("E")].OutOfServicePeriods) != 1 {
		t.Error("E's out-of-service periods lost")
	}
	if p := configOf(key("B"), got[key("B")]); p.SiteID != "S" || p.PointID != "B" || *p.H != 80 {
		t.Errorf("config(B) = %+v", p)
	}
	if p := configOf(key("Z"), got[key("Z")]); p.PointID != "Z" || p.H != nil {
		t.Errorf("config of an unknown point = %+v", p)
	}
}
