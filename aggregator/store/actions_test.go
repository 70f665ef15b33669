package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

// Actions fold into each alarm's disposition in time order, only for the
// park's sites: the registry's park overrides the one an agent announced.
func TestParkAlarmsDisposition(t *testing.T) {
	s := storetest.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.SaveCatalog(ctx, "S1", "PA", "test", nil))
	must(s.SaveCatalog(ctx, "S2", "PA", "test", nil)) // moved to PB by the registry
	must(s.SaveRegistry(ctx, []store.Enterprise{{SiteID: "S2", Park: "PB"}, {SiteID: "S3", Park: "PA"}}, nil, nil, nil))
	base := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC).UnixNano()
	must(s.SaveAlarmEvents(ctx, []store.AlarmEvent{
		{SiteID: "S1", PointID: "T1.LT", Condition: "hh", Priority: 1, Active: true, RaisedNs: base, Value: 9},
		{SiteID: "S1", PointID: "", Condition: "comm_loss", Priority: 2, Active: false, RaisedNs: base + 1, ClearedNs: base + 2},
		{SiteID: "S2", PointID: "T2.PT", Condition: "h", Priority: 2, Active: true, RaisedNs: base + 3},
		{SiteID: "S3", PointID: "T3.PT", Condition: "l", Priority: 3, Active: true, RaisedNs: base + 4},
	}))
	hh := store.AlarmKey{SiteID: "S1", PointID: "T1.LT", Condition: "hh", RaisedNs: base}
	comm := store.AlarmKey{SiteID: "S1", Condition: "comm_loss", RaisedNs: base + 1}
	for i, a := range []store.AlarmAction{
		{Key: hh, Action: store.ActionShelve, AtNs: base + 10, User: "zhang", Reason: "维修", UntilNs: base + int64(time.Hour)},
		{Key: hh, Action: store.ActionAck, AtNs: base + 20, User: "li", Cause: "液位计漂移", Measures: "校准"},
		{Key: hh, Action: store.ActionUnshelve, AtNs: base + 30, User: "li"},
		{Key: comm, Action: store.ActionClose, AtNs: base + 40, User: "wang", Cause: "网络", Measures: "换交换机"},
	} {
		a.Park, a.ActionID = "PA", string(rune('a'+i))
		must(s.SaveAlarmAction(ctx, a))
	}

	got, err := s.ParkAlarms(ctx, "PA", base, 100)
	must(err)
	if len(got) != 3 || got[0].SiteID != "S3" || got[1].AlarmKey != comm || got[2].AlarmKey != hh {
		t.Fatalf("park PA alarms: %+v", got)
	}
	h := got[2]
	if !h.Active || h.AckedBy != "li" || h.AckedNs != base+20 || h.Cause != "液位计漂移" || h.Measures != "校准" ||
		h.Shelved(base+40) || h.ShelvedBy != "" || h.Closed() || h.Value != 9 {
		t.Fatalf("hh disposition: %+v", h)
	}
	c := got[1]
	if c.Active || !c.Acknowledged() || !c.Closed() || c.ClosedBy != "wang" || c.Cause != "网络" {
		t.Fatalf("comm_loss disposition: %+v", c)
	}
	if got[0].Acknowledged() || got[0].Closed() {
		t.Fatalf("S3 alarm has no actions: %+v", got[0])
	}
	if b, err := s.ParkAlarms(ctx, "PB", 0, 100); err != nil || len(b) != 1 || b[0].SiteID != "S2" {
		t.Fatalf("park PB alarms: %+v, %v", b, err)
	}
	// Cleared alarms raised before since drop out; active ones stay.
	if old, err := s.ParkAlarms(ctx, "PA", base+2, 100); err != nil || len(old) != 2 {
		t.Fatalf("PA since base+2: %+v, %v", old, err)
	}

	if d, ok, err := s.ParkAlarm(ctx, "PA", hh); err != nil || !ok || d.AckedBy != "li" {
		t.Fatalf("ParkAlarm PA hh: %+v %v %v", d, ok, err)
	}
	if _, ok, err := s.ParkAlarm(ctx, "PB", hh); err != nil || ok {
		t.Fatalf("ParkAlarm PB hh: %v %v", ok, err)
	}

	s3 := store.AlarmKey{SiteID: "S3", PointID: "T3.PT", Condition: "l", RaisedNs: base + 4}
	unknown := store.AlarmKey{SiteID: "S1", PointID: "T1.LT", Condition: "hh", RaisedNs: base + 1}
	acked, err := s.Acknowledged(ctx, []store.AlarmKey{hh, comm, s3, unknown})
	must(err)
	if !acked[hh] || !acked[comm] || acked[s3] || acked[unknown] || len(acked) != 4 {
		t.Fatalf("Acknowledged: %v", acked)
	}
	if err := s.SaveAlarmAction(ctx, store.AlarmAction{Key: hh, Action: "delete"}); err == nil {
		t.Fatal("unknown action saved")
	}
}
