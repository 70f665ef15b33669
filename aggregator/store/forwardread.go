package store

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// LatestValue is the newest sample of a point inside a period.
type LatestValue struct {
	SiteID, PointID string
	TsNs            int64
	Value           float64
	Text            string
	Type            string // number, bool or text
	Good            bool
	Status          uint32
}

// LatestValues returns, per point, the newest sample with a source time
// in [fromNs, toNs).
func (s *Store) LatestValues(ctx context.Context, fromNs, toNs int64) ([]LatestValue, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	// ts narrows the partitions read; ts_ns decides.
	const q = `SELECT site_id, point_id, max(ts_ns), argMax(value, ts_ns), argMax(value_text, ts_ns),
    argMax(toString(value_type), ts_ns), argMax(good, ts_ns), argMax(status, ts_ns)
FROM samples
WHERE ts >= toDateTime(?, 'UTC') AND ts <= toDateTime(?, 'UTC') AND ts_ns >= ? AND ts_ns < ?
GROUP BY site_id, point_id
ORDER BY site_id, point_id`
	return queryAll(ctx, conn, fmt.Sprintf("latest values %d-%d", fromNs, toNs), func(rows driver.Rows) (LatestValue, error) {
		var v LatestValue
		var good uint8
		err := rows.Scan(&v.SiteID, &v.PointID, &v.TsNs, &v.Value, &v.Text, &v.Type, &good, &v.Status)
		v.Good = good != 0
		return v, err
	}, q, uint32(fromNs/1e9), uint32(toNs/1e9+1), fromNs, toNs)
}

// AlarmRow is a row of alarm_events as written: the raise (Active) or the
// clear of an alarm.
type AlarmRow struct {
	AlarmEvent
	EvaluatedAt time.Time
}

// AlarmRowPos is a row's place in the order AlarmRowsEvaluated reads in.
// One insert stamps all its rows with one evaluated_at second, so a page
// must end at a row, not at a second.
type AlarmRowPos struct {
	EvaluatedAt                time.Time
	RaisedNs                   int64
	SiteID, PointID, Condition string
	Active                     bool
}

// Pos returns the row's place.
func (r AlarmRow) Pos() AlarmRowPos {
	return AlarmRowPos{EvaluatedAt: r.EvaluatedAt, RaisedNs: r.RaisedNs, SiteID: r.SiteID, PointID: r.PointID,
		Condition: r.Condition, Active: r.Active}
}

// AlarmRowsEvaluated returns the alarm_events rows written in [from, to)
// (evaluated_at, whole seconds), oldest first, after the row at after
// when it is given, at most limit.
func (s *Store) AlarmRowsEvaluated(ctx context.Context, from, to time.Time, after *AlarmRowPos, limit int) ([]AlarmRow, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	args := []any{uint32(from.Unix()), uint32(to.Unix())}
	var page string
	if after != nil {
		// state sorts by its number: 'active' = 1, 'cleared' = 2.
		page = "\nAND (evaluated_at, raised_ns, site_id, point_id, condition, toInt8(state)) > (toDateTime(?, 'UTC'), ?, ?, ?, ?, ?)"
		state := int8(2)
		if after.Active {
			state = 1
		}
		args = append(args, uint32(after.EvaluatedAt.Unix()), after.RaisedNs, after.SiteID, after.PointID, after.Condition, state)
	}
	q := `SELECT site_id, point_id, condition, priority, toString(state), raised_ns, cleared_ns, value, limit_value,
    deadband, peak_value, clear_value, end_reason, backfill, kind, unit, hazard_code, equipment, evaluated_at
FROM alarm_events
WHERE evaluated_at >= toDateTime(?, 'UTC') AND evaluated_at < toDateTime(?, 'UTC')` + page + `
ORDER BY evaluated_at, raised_ns, site_id, point_id, condition, toInt8(state)
LIMIT ?`
	args = append(args, limit)
	return queryAll(ctx, conn, fmt.Sprintf("alarm rows %s-%s", from, to), func(rows driver.Rows) (AlarmRow, error) {
		var r AlarmRow
		var state string
		var backfill uint8
		e := &r.AlarmEvent
		err := rows.Scan(&e.SiteID, &e.PointID, &e.Condition, &e.Priority, &state, &e.RaisedNs, &e.ClearedNs,
			&e.Value, &e.Limit, &e.Deadband, &e.Peak, &e.ClearValue, &e.EndReason, &backfill, &e.Kind, &e.Unit,
			&e.HazardCode, &e.Equipment, &r.EvaluatedAt)
		e.Active = state == "active"
		e.Backfill = backfill != 0
		return r, err
	}, q, args...)
}

// BasePoint is a point as the registry describes it for reporting.
type BasePoint struct {
	SiteID, PointID, Name, Description, Unit, Kind string
	RangeLow, RangeHigh                            *float64
	LL, L, H, HH, Stage1, Stage2                   *float64
	HazardCode, HazardName                         string
	HazardLevel                                    uint8
	Equipment                                      string
	OutOfService                                   bool
}

// Base is what the registry knows of every site: base data for reporting.
type Base struct {
	Enterprises []Enterprise
	Hazards     []HazardSource
	Equipment   []Equipment
	Points      []BasePoint
}

// BaseData reads the registry and the points' current configuration.
func (s *Store) BaseData(ctx context.Context) (Base, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return Base{}, err
	}
	var b Base
	query := func(what, q string, scan func(func(...any) error) error) error {
		return queryEach(ctx, conn, "base data "+what, func(rows driver.Rows) error { return scan(rows.Scan) }, q)
	}
	if err := query("enterprises", "SELECT site_id, enterprise_code, name, park FROM enterprises FINAL ORDER BY site_id", func(scan func(...any) error) error {
		var e Enterprise
		err := scan(&e.SiteID, &e.Code, &e.Name, &e.Park)
		b.Enterprises = append(b.Enterprises, e)
		return err
	}); err != nil {
		return b, err
	}
	if err := query("hazard sources", "SELECT site_id, code, name, level, toString(unit_type) FROM hazard_sources FINAL ORDER BY site_id, code", func(scan func(...any) error) error {
		var h HazardSource
		err := scan(&h.SiteID, &h.Code, &h.Name, &h.Level, &h.UnitType)
		b.Hazards = append(b.Hazards, h)
		return err
	}); err != nil {
		return b, err
	}
	if err := query("equipment", "SELECT site_id, equipment, type, medium, hazard_code FROM equipment FINAL ORDER BY site_id, equipment", func(scan func(...any) error) error {
		var e Equipment
		err := scan(&e.SiteID, &e.Name, &e.Type, &e.Medium, &e.HazardCode)
		b.Equipment = append(b.Equipment, e)
		return err
	}); err != nil {
		return b, err
	}
	const points = `SELECT site_id, point_id, name, description, unit, kind, range_low, range_high, ll, l, h, hh,
    stage1, stage2, hazard_code, hazard_name, hazard_level, equipment, out_of_service
FROM points FINAL ORDER BY site_id, point_id`
	err = query("points", points, func(scan func(...any) error) error {
		var p BasePoint
		var oos uint8
		err := scan(&p.SiteID, &p.PointID, &p.Name, &p.Description, &p.Unit, &p.Kind, &p.RangeLow, &p.RangeHigh,
			&p.LL, &p.L, &p.H, &p.HH, &p.Stage1, &p.Stage2, &p.HazardCode, &p.HazardName, &p.HazardLevel, &p.Equipment, &oos)
		p.OutOfService = oos != 0
		b.Points = append(b.Points, p)
		return err
	})
	return b, err
}
