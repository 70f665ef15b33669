package store

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Notification tables (aggregator/notify).
const (
	TableNotificationOutbox = "notification_outbox"
	TableNotifyCursor       = "notify_cursor"
)

func notifyDDL(Capabilities) []string {
	// One row per notification, written 'pending' (or 'suppressed' into a
	// flood summary) before it is sent and again 'sent' or 'failed' after,
	// same id and decided_ns, higher version: the newest state wins on
	// merge; read with FINAL.
	outbox := `CREATE TABLE IF NOT EXISTS notification_outbox (
    id         String,
    state      Enum8('pending' = 1, 'sent' = 2, 'failed' = 3, 'suppressed' = 4),
    kind       Enum8('alarm' = 1, 'summary' = 2),
    recipient  String,
    site_id    String,
    point_id   String,
    condition  String,
    raised_ns  Int64,
    step       UInt8,
    summary_id String,
    members    UInt32,
    subject    String,
    text       String,
    markdown   String,
    data       String,
    decided_ns Int64,
    due_ns     Int64,
    attempts   UInt32,
    error      String,
    version    UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(toDateTime(intDiv(decided_ns, 1000000000), 'UTC'))
ORDER BY id`

	// How far the notifier has read alarm_events (by evaluated_at).
	cursor := `CREATE TABLE IF NOT EXISTS notify_cursor (
    name         String,
    evaluated_at DateTime('UTC'),
    updated_ns   UInt64
) ENGINE = ReplacingMergeTree(updated_ns)
ORDER BY name`
	return []string{outbox, cursor}
}

// NotifyAlarm is an alarm as the notifier needs it: the event and where it
// belongs (park, enterprise name, hazard source name).
type NotifyAlarm struct {
	AlarmEvent
	EvaluatedAt time.Time
	Park        string
	Enterprise  string
	HazardName  string
}

// Key returns the alarm's identity.
func (a NotifyAlarm) Key() AlarmKey {
	return AlarmKey{SiteID: a.SiteID, PointID: a.PointID, Condition: a.Condition, RaisedNs: a.RaisedNs}
}

// finalCtx keeps WHERE out of PREWHERE, which runs before FINAL has
// collapsed a key's rows: a filter on a column that changes between
// versions (state) would then see a replaced row. 18.16 filters after
// FINAL either way (TestOutboxSentIsNotPending); this keeps it so.
func finalCtx(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"optimize_move_to_prewhere": 0}))
}

// NotifyAlarms returns, in their final state, the alarms written since
// evaluatedSince and the alarms still active that were raised since
// activeSinceNs, oldest raise first.
func (s *Store) NotifyAlarms(ctx context.Context, evaluatedSince time.Time, activeSinceNs int64) ([]NotifyAlarm, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	out, err := queryAll(finalCtx(ctx), conn, "notify alarms", func(rows driver.Rows) (NotifyAlarm, error) {
		var a NotifyAlarm
		var state string
		var backfill uint8
		err := rows.Scan(&a.SiteID, &a.PointID, &a.Condition, &a.Priority, &state, &a.RaisedNs, &a.ClearedNs,
			&a.Value, &a.Limit, &backfill, &a.Kind, &a.Unit, &a.HazardCode, &a.Equipment, &a.EvaluatedAt)
		a.Active, a.Backfill = state == "active", backfill == 1
		return a, err
	}, `SELECT site_id, point_id, condition, priority, state, raised_ns, cleared_ns,
    value, limit_value, backfill, kind, unit, hazard_code, equipment, evaluated_at
FROM alarm_events FINAL
WHERE evaluated_at >= ? OR (state = 'active' AND raised_ns >= ?)
ORDER BY raised_ns, site_id, point_id, condition`, evaluatedSince.UTC(), activeSinceNs)
	if err != nil {
		return nil, err
	}
	if err := s.placeAlarms(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// placeAlarms fills in park and names from the registry: the enterprise's
// park, else the park the site's agent announced.
func (s *Store) placeAlarms(ctx context.Context, alarms []NotifyAlarm) error {
	if len(alarms) == 0 {
		return nil
	}
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	type place struct{ park, name string }
	places := map[string]place{}
	hazards := map[[2]string]string{}
	keepPlace := func(site, park, name string) {
		if park != "" || name != "" {
			places[site] = place{park: park, name: name}
		}
	}
	for _, q := range []struct {
		sql  string
		keep func(a, b, c string)
	}{
		{"SELECT site_id, park, '' FROM sites FINAL", keepPlace},
		{"SELECT site_id, park, name FROM enterprises FINAL", keepPlace},
		{"SELECT site_id, code, name FROM hazard_sources FINAL", func(site, code, name string) { hazards[[2]string{site, code}] = name }},
	} {
		if err := queryEach(ctx, conn, "notify places", func(rows driver.Rows) error {
			var a, b, c string
			if err := rows.Scan(&a, &b, &c); err != nil {
				return err
			}
			q.keep(a, b, c)
			return nil
		}, q.sql); err != nil {
			return err
		}
	}
	for i := range alarms {
		a := &alarms[i]
		a.Park, a.Enterprise = places[a.SiteID].park, places[a.SiteID].name
		a.HazardName = hazards[[2]string{a.SiteID, a.HazardCode}]
	}
	return nil
}

// NotifyCursor returns the evaluated_at the notifier named name has read
// up to; ok is false before its first save.
func (s *Store) NotifyCursor(ctx context.Context, name string) (at time.Time, ok bool, err error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return time.Time{}, false, err
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count(), max(evaluated_at) FROM notify_cursor FINAL WHERE name = ?", name).Scan(&n, &at); err != nil {
		return time.Time{}, false, fmt.Errorf("notify cursor %s: %w", name, err)
	}
	return at.UTC(), n > 0, nil
}

// SaveNotifyCursor records how far the notifier named name has read.
func (s *Store) SaveNotifyCursor(ctx context.Context, name string, at time.Time) error {
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO notify_cursor (name, evaluated_at, updated_ns)")
	if err != nil {
		return fmt.Errorf("save notify cursor: prepare: %w", err)
	}
	defer batch.Abort()
	if err := batch.Append(name, at.UTC(), uint64(time.Now().UnixNano())); err != nil {
		return permanent(fmt.Errorf("save notify cursor: %w", err))
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("save notify cursor: %w", err)
	}
	return nil
}
