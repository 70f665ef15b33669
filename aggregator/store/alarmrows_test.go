package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

// Alarm rows of one insert share their evaluated_at second; read page by
// page after the last row read, they come whole and once, on 18.16 and on
// a current server.
func TestAlarmRowsPageWithinASecond(t *testing.T) {
	for name, open := range map[string]func(*testing.T) *store.Store{
		"18.16": func(t *testing.T) *store.Store { return storetest.Open(t) }, "current": openCurrent} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			raised := time.Now().Add(-time.Hour).UnixNano()
			ev := func(point string, at int64, cleared int64) store.AlarmEvent {
				return store.AlarmEvent{SiteID: "S1", PointID: point, Condition: "H", Active: cleared == 0,
					RaisedNs: raised + at, ClearedNs: cleared, Value: 9, Limit: 8}
			}
			events := []store.AlarmEvent{
				ev("P3", 0, 0), ev("P1", 0, 0), ev("P2", 0, 0), ev("P1", 1e9, 0),
				ev("点4", 0, raised+7e9), ev("点4", 0, 0), // its raise and clear: two rows
			}
			if err := s.SaveAlarmEvents(ctx, events); err != nil {
				t.Fatal(err)
			}
			from, to := time.Now().Add(-time.Minute), time.Now().Add(time.Minute)
			var got []store.AlarmRow
			var after *store.AlarmRowPos
			for page := 0; ; page++ {
				rows, err := s.AlarmRowsEvaluated(ctx, from, to, after, 2)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, rows...)
				if len(rows) < 2 || page > 10 {
					break
				}
				last := rows[len(rows)-1].Pos()
				after = &last
			}
			seen := map[store.AlarmRowPos]bool{}
			keys := map[store.AlarmKey]bool{}
			for i, r := range got {
				pos := r.Pos()
				if seen[pos] {
					t.Errorf("row %d read twice: %+v", i, pos)
				}
				seen[pos] = true
				keys[store.AlarmKey{SiteID: r.SiteID, PointID: r.PointID, Condition: r.Condition, RaisedNs: r.RaisedNs}] = true
			}
			// A current server collapses an insert's rows of one key as it
			// writes them (optimize_on_insert); 18.16 keeps all until a
			// merge. Every alarm is read either way.
			if len(keys) != 5 {
				t.Errorf("read %d alarms in %d rows, want 5: %+v", len(keys), len(got), got)
			}
		})
	}
}
