package notify

import (
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

func TestCandidates(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	alarm := func(mod func(*store.NotifyAlarm)) store.NotifyAlarm {
		a := store.NotifyAlarm{Park: "化工园区", AlarmEvent: store.AlarmEvent{SiteID: "hd", PointID: "T1", Condition: "HH",
			Priority: 1, Active: true, RaisedNs: t0.UnixNano(), Kind: "level", HazardCode: "H01"}}
		if mod != nil {
			mod(&a)
		}
		return a
	}
	cfg := Config{Rules: []Rule{
		{Match: Match{Parks: []string{"化工园区"}, Priorities: []uint8{1}}, Steps: []Step{
			{Recipients: []string{"officer"}}, {After: 10 * time.Minute, Recipients: []string{"duty"}}}},
		{Match: Match{Hazards: []string{"H02"}, Conditions: []string{"LL"}}, Steps: []Step{{Recipients: []string{"hazmat"}}}},
	}}
	for _, tc := range []struct {
		name  string
		alarm store.NotifyAlarm
		at    time.Duration
		owned []string
		want  []string
	}{
		{"at raise", alarm(nil), 0, nil, []string{"officer"}},
		{"after ten minutes", alarm(nil), 10 * time.Minute, nil, []string{"officer", "duty"}},
		{"cleared: no escalation", alarm(func(a *store.NotifyAlarm) { a.Active = false }), time.Hour, nil, []string{"officer"}},
		{"back-filled: no escalation", alarm(func(a *store.NotifyAlarm) { a.Backfill = true }), time.Hour, nil, []string{"officer"}},
		{"other priority", alarm(func(a *store.NotifyAlarm) { a.Priority = 2 }), time.Hour, nil, nil},
		{"other park", alarm(func(a *store.NotifyAlarm) { a.Park = "港区" }), 0, nil, nil},
		{"second rule", alarm(func(a *store.NotifyAlarm) { a.Park, a.HazardCode, a.Condition = "港区", "H02", "LL" }), 0, nil, []string{"hazmat"}},
		{"park not owned", alarm(nil), 0, []string{"港区"}, nil},
		{"park owned", alarm(nil), 0, []string{"化工园区"}, []string{"officer"}},
	} {
		c := cfg
		c.OwnedParks = tc.owned
		var got []string
		for _, cand := range c.candidates(tc.alarm, t0.Add(tc.at)) {
			got = append(got, cand.recipient)
			if cand.id != notificationID(tc.alarm.Key(), cand.step, cand.recipient) {
				t.Errorf("%s: id not deterministic", tc.name)
			}
		}
		if len(got) != len(tc.want) || (len(got) > 0 && got[len(got)-1] != tc.want[len(tc.want)-1]) {
			t.Errorf("%s: recipients %v, want %v", tc.name, got, tc.want)
		}
	}
	if notificationID(alarm(nil).Key(), 0, "a") == notificationID(alarm(nil).Key(), 1, "a") {
		t.Error("steps share an id")
	}
}
