package store

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// alarmActionsOf runs q, whose first parameter is the set of the keys'
// sites; nil rows for no keys.
func (s *Store) alarmActionsOf(ctx context.Context, keys []AlarmKey, q string, args ...any) (driver.Rows, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	sites := make([]string, 0, len(keys))
	for _, k := range keys {
		sites = append(sites, k.SiteID)
	}
	rows, err := conn.Query(ctx, q, append([]any{inSet(sites)}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("alarm actions: %w", err)
	}
	return rows, nil
}

// collectKeys marks in out those of keys that rows (site, point,
// condition, raised_ns) name, and closes rows.
func collectKeys(rows driver.Rows, keys []AlarmKey, out map[AlarmKey]bool) (map[AlarmKey]bool, error) {
	defer rows.Close()
	want := make(map[AlarmKey]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	for rows.Next() {
		var k AlarmKey
		if err := rows.Scan(&k.SiteID, &k.PointID, &k.Condition, &k.RaisedNs); err != nil {
			return nil, fmt.Errorf("alarm actions: %w", err)
		}
		if want[k] {
			out[k] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("alarm actions: %w", err)
	}
	return out, nil
}

// AlarmsShelved reports which of keys are shelved at nowNs: their latest
// shelve/unshelve row in alarm_actions is a shelve with until_ns after
// nowNs. None are while that table does not exist.
func (s *Store) AlarmsShelved(ctx context.Context, keys []AlarmKey, nowNs int64) (map[AlarmKey]bool, error) {
	out := make(map[AlarmKey]bool, len(keys))
	rows, err := s.alarmActionsOf(ctx, keys, `SELECT site_id, point_id, condition, raised_ns FROM alarm_actions
WHERE site_id IN ? AND action IN ('shelve', 'unshelve')
GROUP BY site_id, point_id, condition, raised_ns
HAVING argMax(action, at_ns) = 'shelve' AND argMax(until_ns, at_ns) > ?`, nowNs)
	if err != nil || rows == nil {
		return out, err
	}
	return collectKeys(rows, keys, out)
}
