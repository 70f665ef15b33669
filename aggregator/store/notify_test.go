package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

func TestAlarmsShelvedAndAcknowledged(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	acked := store.AlarmKey{SiteID: "hd", PointID: "T1", Condition: "HH", RaisedNs: 100}
	closed := store.AlarmKey{SiteID: "hd", PointID: "T2", Condition: "LL", RaisedNs: 200}
	shelved := store.AlarmKey{SiteID: "hd", PointID: "T3", Condition: "H", RaisedNs: 300}
	keys := []store.AlarmKey{acked, closed, shelved}

	conn := chtest.Conn(t, st.Config().Addr, st.Config().Database)
	later := store.AlarmKey{SiteID: "hd", PointID: "T4", Condition: "H", RaisedNs: 400}
	unshelved := store.AlarmKey{SiteID: "hd", PointID: "T5", Condition: "H", RaisedNs: 500}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO alarm_actions (site_id, point_id, condition, raised_ns, action, at_ns, user, until_ns, action_id)")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range []struct {
		k      store.AlarmKey
		action string
		until  int64
	}{{acked, "ack", 0}, {closed, "close", 0}, {shelved, "shelve", 2000},
		{store.AlarmKey{SiteID: "hd", PointID: "T1", Condition: "HH", RaisedNs: 999}, "ack", 0},
		{later, "shelve", 500}, // ran out before now (1000)
		{unshelved, "shelve", 2000}, {unshelved, "unshelve", 0}} {
		if err := batch.Append(r.k.SiteID, r.k.PointID, r.k.Condition, r.k.RaisedNs, r.action, int64(i), "张三", r.until,
			r.action+r.k.PointID); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	sh, err := st.AlarmsShelved(ctx, append(keys, later, unshelved), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !sh[shelved] || len(sh) != 1 {
		t.Errorf("shelved %v, want T3 only", sh)
	}
	got, err := st.Acknowledged(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if !got[acked] || !got[closed] || got[shelved] {
		t.Errorf("acknowledged %v, want T1 and T2 only", got)
	}
}

// A sent row replaces its pending row even while both sit in unmerged
// parts: a filter on state must see the collapsed row, not the old one.
func TestOutboxSentIsNotPending(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	conn := chtest.Conn(t, st.Config().Addr, st.Config().Database)
	if err := conn.Exec(ctx, "SYSTEM STOP MERGES notification_outbox"); err != nil {
		t.Fatal(err)
	}
	row := store.OutboxRow{ID: "n1", State: store.OutboxPending, Kind: store.OutboxAlarm, Recipient: "值班室", DecidedNs: 1e18, DueNs: 5, Version: 1}
	if err := st.SaveOutbox(ctx, []store.OutboxRow{row}); err != nil {
		t.Fatal(err)
	}
	if got, err := st.PendingOutbox(ctx, 10); err != nil || len(got) != 1 || got[0].Recipient != "值班室" {
		t.Fatalf("pending %+v (%v)", got, err)
	}
	row.State, row.Version = store.OutboxSent, 2
	if err := st.SaveOutbox(ctx, []store.OutboxRow{row}); err != nil {
		t.Fatal(err)
	}
	if got, err := st.PendingOutbox(ctx, 10); err != nil || len(got) != 0 {
		t.Fatalf("pending after sent: %+v (%v)", got, err)
	}
	if n, err := st.OutboxPendingCount(ctx); err != nil || n != 0 {
		t.Fatalf("pending count %d (%v)", n, err)
	}
	got, err := st.OutboxByID(ctx, []string{"n1", "n2"})
	if err != nil || len(got) != 1 || got["n1"].State != store.OutboxSent {
		t.Fatalf("by id %+v (%v)", got, err)
	}
}

// NotifyAlarms returns an alarm cleared since it was raised as cleared,
// with its park and names from the registry.
func TestNotifyAlarmsFinalState(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	conn := chtest.Conn(t, st.Config().Addr, st.Config().Database)
	if err := conn.Exec(ctx, "SYSTEM STOP MERGES alarm_events"); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveRegistry(ctx, []store.Enterprise{{SiteID: "hd", Name: "华东化工", Park: "化工园区"}},
		[]store.HazardSource{{SiteID: "hd", Code: "H01", Name: "液氯储罐区", UnitType: "tank_farm"}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	raised := time.Now().UnixNano()
	ev := store.AlarmEvent{SiteID: "hd", PointID: "T1", Condition: "HH", Priority: 1, Active: true, RaisedNs: raised, HazardCode: "H01"}
	if err := st.SaveAlarmEvents(ctx, []store.AlarmEvent{ev}); err != nil {
		t.Fatal(err)
	}
	ev.Active, ev.ClearedNs = false, raised+1e9
	if err := st.SaveAlarmEvents(ctx, []store.AlarmEvent{ev}); err != nil {
		t.Fatal(err)
	}
	got, err := st.NotifyAlarms(ctx, time.Now().Add(-time.Hour), raised-1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Active || got[0].ClearedNs != raised+1e9 {
		t.Fatalf("alarms %+v, want one, cleared", got)
	}
	if got[0].Park != "化工园区" || got[0].Enterprise != "华东化工" || got[0].HazardName != "液氯储罐区" {
		t.Errorf("placed %+v", got[0])
	}
	// Neither written recently nor active: not read.
	if got, err := st.NotifyAlarms(ctx, time.Now().Add(time.Hour), raised-1); err != nil || len(got) != 0 {
		t.Errorf("old cleared alarm read again: %+v (%v)", got, err)
	}
}
