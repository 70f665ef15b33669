package store

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Forwarder tables: what the provincial forwarder (aggregator/forward) has
// sent to each target, what it could not send, and the codes the province
// assigned.
const (
	TableForwardCursors = "forward_cursors"
	TableForwardGaps    = "forward_gaps"
	TableForwardCodes   = "forward_codes"
	TableForwardAlarms  = "forward_alarms"
)

func forwardDDL() []string {
	// One row per target and message kind, rewritten after every period
	// sent; the newest (updated_ns) wins. pending lists the spans still to
	// send ("from-to,from-to", Unix ns); backlog_s sums their length.
	cursors := `CREATE TABLE IF NOT EXISTS forward_cursors (
    target     String,
    kind       String,
    live_ns    Int64,
    pending    String,
    backlog_s  Float64,
    sent       UInt64,
    updated_ns UInt64
) ENGINE = ReplacingMergeTree(updated_ns)
ORDER BY (target, kind)`

	gaps := `CREATE TABLE IF NOT EXISTS forward_gaps (
    target      String,
    kind        String,
    site_id     String,
    point_id    String,
    from_ns     Int64,
    to_ns       Int64,
    reason      String,
    detail      String,
    recorded_ns Int64
) ENGINE = ReplacingMergeTree(recorded_ns)
ORDER BY (target, kind, site_id, point_id, from_ns)`

	// kind is enterprise, hazard or point; local_id the site id, the
	// site/hazard code or the site/point id. An empty code withdraws one.
	codes := `CREATE TABLE IF NOT EXISTS forward_codes (
    target     String,
    kind       String,
    local_id   String,
    code       String,
    name       String,
    updated_ns UInt64
) ENGINE = ReplacingMergeTree(updated_ns)
ORDER BY (target, kind, local_id)`

	// Alarm starts and ends a target has been sent, so an alarm is sent
	// once even when its rows are read again.
	alarms := `CREATE TABLE IF NOT EXISTS forward_alarms (
    target    String,
    site_id   String,
    point_id  String,
    condition String,
    raised_ns Int64,
    phase     Enum8('start' = 1, 'end' = 2),
    key       String,
    sent_ns   Int64
) ENGINE = ReplacingMergeTree(sent_ns)
ORDER BY (target, site_id, point_id, condition, raised_ns, phase)`
	return []string{cursors, gaps, codes, alarms}
}

// ForwardCursor is a target's progress through one kind of message.
type ForwardCursor struct {
	Target, Kind string
	// LiveNs is where live sending goes on: everything from it on is unsent.
	LiveNs int64
	// Pending are spans before LiveNs still to send, oldest first,
	// encoded "from-to,…".
	Pending  string
	BacklogS float64
	Sent     uint64
}

// ForwardCursors returns the cursors of a target by kind.
func (s *Store) ForwardCursors(ctx context.Context, target string) (map[string]ForwardCursor, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	out := map[string]ForwardCursor{}
	err = queryEach(ctx, conn, "forward cursors of "+target, func(rows driver.Rows) error {
		c := ForwardCursor{Target: target}
		if err := rows.Scan(&c.Kind, &c.LiveNs, &c.Pending, &c.BacklogS, &c.Sent); err != nil {
			return err
		}
		out[c.Kind] = c
		return nil
	}, `SELECT kind, argMax(live_ns, updated_ns), argMax(pending, updated_ns),
    argMax(backlog_s, updated_ns), argMax(sent, updated_ns)
FROM forward_cursors WHERE target = ? GROUP BY kind`, target)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SaveForwardCursor writes a cursor; the newest write wins.
func (s *Store) SaveForwardCursor(ctx context.Context, c ForwardCursor) error {
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO forward_cursors (target, kind, live_ns, pending, backlog_s, sent, updated_ns)")
	if err != nil {
		return fmt.Errorf("save forward cursor: prepare: %w", err)
	}
	defer batch.Abort()
	if err := batch.Append(c.Target, c.Kind, c.LiveNs, c.Pending, c.BacklogS, c.Sent, uint64(time.Now().UnixNano())); err != nil {
		return permanent(fmt.Errorf("save forward cursor: %w", err))
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("save forward cursor %s/%s: %w", c.Target, c.Kind, err)
	}
	return nil
}

// ForwardGap is a span a target was not sent, and why.
type ForwardGap struct {
	Target, Kind    string
	SiteID, PointID string
	FromNs, ToNs    int64
	Reason, Detail  string
}

// SaveForwardGaps records spans a target will never be sent.
func (s *Store) SaveForwardGaps(ctx context.Context, gaps []ForwardGap) error {
	if len(gaps) == 0 {
		return nil
	}
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO forward_gaps (target, kind, site_id, point_id, from_ns, to_ns, reason, detail, recorded_ns)")
	if err != nil {
		return fmt.Errorf("save forward gaps: prepare: %w", err)
	}
	defer batch.Abort()
	now := time.Now().UnixNano()
	for _, g := range gaps {
		if err := batch.Append(g.Target, g.Kind, g.SiteID, g.PointID, g.FromNs, g.ToNs, g.Reason, g.Detail, now); err != nil {
			return permanent(fmt.Errorf("save forward gaps: %w", err))
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("save forward gaps (%d): %w", len(gaps), err)
	}
	return nil
}

// ForwardGaps returns a target's gaps, oldest first.
func (s *Store) ForwardGaps(ctx context.Context, target string) ([]ForwardGap, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, conn, "forward gaps of "+target, func(rows driver.Rows) (ForwardGap, error) {
		g := ForwardGap{Target: target}
		err := rows.Scan(&g.Kind, &g.SiteID, &g.PointID, &g.FromNs, &g.ToNs, &g.Reason, &g.Detail)
		return g, err
	}, `SELECT kind, site_id, point_id, from_ns, to_ns, reason, detail
FROM forward_gaps FINAL WHERE target = ? ORDER BY from_ns, kind, site_id, point_id`, target)
}

// ForwardCode is a code a province assigned to something of ours.
type ForwardCode struct {
	Target, Kind, LocalID, Code, Name string
}

// SaveForwardCodes writes code mappings; a later write of the same key wins.
func (s *Store) SaveForwardCodes(ctx context.Context, codes []ForwardCode) error {
	if len(codes) == 0 {
		return nil
	}
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO forward_codes (target, kind, local_id, code, name, updated_ns)")
	if err != nil {
		return fmt.Errorf("save forward codes: prepare: %w", err)
	}
	defer batch.Abort()
	version := uint64(time.Now().UnixNano())
	for _, c := range codes {
		if err := batch.Append(c.Target, c.Kind, c.LocalID, c.Code, c.Name, version); err != nil {
			return permanent(fmt.Errorf("save forward codes: %w", err))
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("save forward codes (%d): %w", len(codes), err)
	}
	return nil
}

// ForwardCodes returns the current, non-empty codes of a target.
func (s *Store) ForwardCodes(ctx context.Context, target string) ([]ForwardCode, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, conn, "forward codes of "+target, func(rows driver.Rows) (ForwardCode, error) {
		c := ForwardCode{Target: target}
		err := rows.Scan(&c.Kind, &c.LocalID, &c.Code, &c.Name)
		return c, err
	}, `SELECT kind, local_id, argMax(code, updated_ns) AS c, argMax(name, updated_ns)
FROM forward_codes WHERE target = ? GROUP BY kind, local_id HAVING c != '' ORDER BY kind, local_id`, target)
}

// ForwardedAlarm is an alarm start or end a target was sent.
type ForwardedAlarm struct {
	Target, SiteID, PointID, Condition string
	RaisedNs                           int64
	End                                bool
	Key                                string
}

// SaveForwardedAlarms records alarm starts and ends as sent.
func (s *Store) SaveForwardedAlarms(ctx context.Context, sent []ForwardedAlarm) error {
	if len(sent) == 0 {
		return nil
	}
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO forward_alarms (target, site_id, point_id, condition, raised_ns, phase, key, sent_ns)")
	if err != nil {
		return fmt.Errorf("save forwarded alarms: prepare: %w", err)
	}
	defer batch.Abort()
	now := time.Now().UnixNano()
	for _, a := range sent {
		phase := int8(1)
		if a.End {
			phase = 2
		}
		if err := batch.Append(a.Target, a.SiteID, a.PointID, a.Condition, a.RaisedNs, phase, a.Key, now); err != nil {
			return permanent(fmt.Errorf("save forwarded alarms: %w", err))
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("save forwarded alarms (%d): %w", len(sent), err)
	}
	return nil
}

// ForwardedAlarmKeys returns the keys of the alarm starts and ends a target
// was sent for alarms raised in [fromNs, toNs].
func (s *Store) ForwardedAlarmKeys(ctx context.Context, target string, fromNs, toNs int64) (map[string]bool, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	err = queryEach(ctx, conn, "forwarded alarms of "+target, func(rows driver.Rows) error {
		var k string
		if err := rows.Scan(&k); err != nil {
			return err
		}
		out[k] = true
		return nil
	}, "SELECT DISTINCT key FROM forward_alarms WHERE target = ? AND raised_ns >= ? AND raised_ns <= ?",
		target, fromNs, toNs)
	if err != nil {
		return nil, err
	}
	return out, nil
}
