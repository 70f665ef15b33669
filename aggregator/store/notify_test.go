package store_test

import (
	"context"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

// alarmActionsDDL is the acknowledgement table as agreed with its owner.
const alarmActionsDDL = `CREATE TABLE IF NOT EXISTS alarm_actions (
    site_id      String,
    point_id     String,
    condition    String,
    raised_ns    Int64,
    action       Enum8('ack' = 1, 'shelve' = 2, 'unshelve' = 3, 'close' = 4, 'comment' = 5),
    at_ns        Int64,
    user         String,
    park         String,
    cause        String,
    measures     String,
    reason       String,
    until_ns     Int64,
    remote_addr  String,
    action_id    String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(toDateTime(intDiv(at_ns, 1000000000), 'UTC'))
ORDER BY (site_id, point_id, condition, raised_ns, at_ns, action_id)`

func TestAlarmsAcknowledged(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	acked := store.AlarmKey{SiteID: "hd", PointID: "T1", Condition: "HH", RaisedNs: 100}
	closed := store.AlarmKey{SiteID: "hd", PointID: "T2", Condition: "LL", RaisedNs: 200}
	shelved := store.AlarmKey{SiteID: "hd", PointID: "T3", Condition: "H", RaisedNs: 300}
	keys := []store.AlarmKey{acked, closed, shelved}

	got, err := st.AlarmsAcknowledged(ctx, keys)
	if err != nil || len(got) != 0 {
		t.Fatalf("without alarm_actions: %v (%v), want none", got, err)
	}
	conn := chtest.Conn(t, st.Config().Addr, st.Config().Database)
	if err := conn.Exec(ctx, alarmActionsDDL); err != nil {
		t.Fatal(err)
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO alarm_actions (site_id, point_id, condition, raised_ns, action, at_ns, user, action_id)")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		k      store.AlarmKey
		action string
	}{{acked, "ack"}, {closed, "close"}, {shelved, "shelve"}, {store.AlarmKey{SiteID: "hd", PointID: "T1", Condition: "HH", RaisedNs: 999}, "ack"}} {
		if err := batch.Append(r.k.SiteID, r.k.PointID, r.k.Condition, r.k.RaisedNs, r.action, int64(1), "张三", r.action+r.k.PointID); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	got, err = st.AlarmsAcknowledged(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if !got[acked] || !got[closed] || got[shelved] || len(got) != 2 {
		t.Errorf("acknowledged %v, want T1 and T2 only", got)
	}
}
