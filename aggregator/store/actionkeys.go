package store

import (
	"context"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// actedKeys is the one read of alarm_actions that acknowledgement and
// shelving share: the alarm keys of sites with rows of some actions,
// grouped per key so that a condition can look at the latest of those
// rows (argMax(…, at_ns)).
type actedKeys struct {
	what    string   // the context of its errors
	actions []string // the kinds of row read: ack and close, or shelve and unshelve
	sites   []string
	// where narrows the rows read further, with whereArgs.
	where     string
	whereArgs []any
	// latest, a HAVING over each key's rows, keeps the keys whose latest
	// state matches, with latestArgs; empty keeps every key with a row.
	latest     string
	latestArgs []any
}

// sql returns the query and its parameters. Tuple IN is avoided for
// ClickHouse 18.16: a caller after particular keys narrows the superset
// the site (and its where) select.
func (q actedKeys) sql() (string, []any) {
	sites := slices.Compact(slices.Sorted(slices.Values(q.sites)))
	var b strings.Builder
	b.WriteString("SELECT site_id, point_id, condition, raised_ns FROM alarm_actions\nWHERE action IN ? AND site_id IN ?")
	args := []any{inSet(q.actions), inSet(sites)}
	if q.where != "" {
		b.WriteString(" AND " + q.where)
		args = append(args, q.whereArgs...)
	}
	b.WriteString("\nGROUP BY site_id, point_id, condition, raised_ns")
	if q.latest != "" {
		b.WriteString("\nHAVING " + q.latest)
		args = append(args, q.latestArgs...)
	}
	return b.String(), args
}

// readActedKeys runs q; no sites select no keys.
func (s *Store) readActedKeys(ctx context.Context, q actedKeys) ([]AlarmKey, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	if len(q.sites) == 0 {
		return nil, nil
	}
	sql, args := q.sql()
	return queryAll(ctx, conn, q.what, func(rows driver.Rows) (AlarmKey, error) {
		var k AlarmKey
		err := rows.Scan(&k.SiteID, &k.PointID, &k.Condition, &k.RaisedNs)
		return k, err
	}, sql, args...)
}

// keySites returns the sites of keys.
func keySites(keys []AlarmKey) []string {
	sites := make([]string, 0, len(keys))
	for _, k := range keys {
		sites = append(sites, k.SiteID)
	}
	return sites
}

// AlarmsShelved reports which of keys are shelved at nowNs: their latest
// shelve/unshelve row in alarm_actions is a shelve with until_ns after
// nowNs. None are while that table does not exist.
func (s *Store) AlarmsShelved(ctx context.Context, keys []AlarmKey, nowNs int64) (map[AlarmKey]bool, error) {
	out := make(map[AlarmKey]bool, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	found, err := s.readActedKeys(ctx, actedKeys{what: "alarm actions", actions: []string{ActionShelve, ActionUnshelve},
		sites: keySites(keys), latest: "argMax(action, at_ns) = 'shelve' AND argMax(until_ns, at_ns) > ?", latestArgs: []any{nowNs}})
	if err != nil {
		return out, err
	}
	want := make(map[AlarmKey]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	for _, k := range found {
		if want[k] {
			out[k] = true
		}
	}
	return out, nil
}
