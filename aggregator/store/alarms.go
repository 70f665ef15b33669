package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Alarm tables.
const (
	TableAlarmEvents = "alarm_events"
	TableAlarmState  = "alarm_state"
)

func alarmDDL(caps Capabilities) []string {
	lc := lowCardinality(caps)
	// One row per alarm: written when it is raised (state 'active',
	// version 1) and written again, same key, when it clears (state
	// 'cleared', version 2). Re-evaluating the same samples yields the
	// same key, so rows collapse on merge; read with FINAL.
	events := `CREATE TABLE IF NOT EXISTS alarm_events (
    site_id      ` + lc("String") + `,
    point_id     String,
    condition    ` + lc("String") + `,
    priority     UInt8,
    state        Enum8('active' = 1, 'cleared' = 2),
    raised_at    DateTime('UTC'),
    raised_ns    Int64,
    cleared_at   DateTime('UTC'),
    cleared_ns   Int64,
    duration_s   Float64,
    value        Float64,
    limit_value  Float64,
    deadband     Float64,
    peak_value   Float64,
    clear_value  Float64,
    end_reason   ` + lc("String") + `,
    backfill     UInt8,
    kind         ` + lc("String") + `,
    unit         String,
    hazard_code  String,
    equipment    String,
    evaluated_at DateTime('UTC'),
    version      UInt8,
    epoch        UInt64 DEFAULT 0
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(raised_at)
ORDER BY (site_id, point_id, condition, raised_ns)`

	// The evaluator's checkpoint: one row per point (point_id '' for the
	// site itself) holding its state machine, so a restart neither loses
	// nor repeats a raise or a clear.
	state := `CREATE TABLE IF NOT EXISTS alarm_state (
    site_id    String,
    point_id   String,
    state      String,
    updated_ns UInt64,
    epoch      UInt64 DEFAULT 0
) ENGINE = ReplacingMergeTree(updated_ns)
ORDER BY (site_id, point_id)`
	return []string{events, state}
}

// AlarmEvent is one row of alarm_events: an alarm as raised, or as cleared.
type AlarmEvent struct {
	SiteID     string
	PointID    string // "" for a site-wide alarm
	Condition  string
	Priority   uint8
	Active     bool
	RaisedNs   int64
	ClearedNs  int64 // 0 while active
	Value      float64
	Limit      float64
	Deadband   float64
	Peak       float64
	ClearValue float64
	EndReason  string
	Backfill   bool
	Kind       string
	Unit       string
	HazardCode string
	Equipment  string
	// Epoch is the site ownership epoch of the aggregator that wrote the
	// row (0 without ownership).
	Epoch uint64
}

const insertAlarmEvents = "INSERT INTO alarm_events (site_id, point_id, condition, priority, state, " +
	"raised_at, raised_ns, cleared_at, cleared_ns, duration_s, value, limit_value, deadband, peak_value, " +
	"clear_value, end_reason, backfill, kind, unit, hazard_code, equipment, evaluated_at, version, epoch)"

// SaveAlarmEvents writes alarm rows. Writing the same event again is
// harmless: rows with the same key collapse, the cleared one winning.
func (s *Store) SaveAlarmEvents(ctx context.Context, events []AlarmEvent) error {
	if len(events) == 0 {
		return nil
	}
	// The time is taken before anything else: a row's evaluated_at is
	// then no later than the moment its writer decided to write it (see
	// aggregator/owner on fencing).
	now := time.Now().UTC()
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	batch, err := conn.PrepareBatch(ctx, insertAlarmEvents)
	if err != nil {
		return fmt.Errorf("insert alarm events: prepare: %w", err)
	}
	defer batch.Abort()
	for _, e := range events {
		state, version := int8(1), uint8(1)
		var cleared time.Time = dateTimeMin
		var duration float64
		if !e.Active {
			state, version = 2, 2
			cleared = clampDateTime(e.ClearedNs)
			duration = float64(e.ClearedNs-e.RaisedNs) / 1e9
		}
		var backfill uint8
		if e.Backfill {
			backfill = 1
		}
		if err := batch.Append(e.SiteID, e.PointID, e.Condition, e.Priority, state,
			clampDateTime(e.RaisedNs), e.RaisedNs, cleared, e.ClearedNs, duration,
			e.Value, e.Limit, e.Deadband, e.Peak, e.ClearValue, e.EndReason, backfill,
			e.Kind, e.Unit, e.HazardCode, e.Equipment, now, version, e.Epoch); err != nil {
			return permanent(fmt.Errorf("insert alarm events: %w", err))
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert alarm events (%d): %w", len(events), err)
	}
	return nil
}

// AlarmState is one checkpoint row of alarm_state.
type AlarmState struct {
	SiteID  string
	PointID string
	State   string
	// Epoch is the site ownership epoch the row was written under (0
	// without ownership); a reader takes the row of the highest epoch, so
	// a paused former owner's late checkpoint never wins.
	Epoch uint64
}

// SaveAlarmStates writes checkpoint rows; the newest per key wins.
func (s *Store) SaveAlarmStates(ctx context.Context, states []AlarmState) error {
	if len(states) == 0 {
		return nil
	}
	version := uint64(time.Now().UnixNano()) // first, as in SaveAlarmEvents
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO alarm_state (site_id, point_id, state, updated_ns, epoch)")
	if err != nil {
		return fmt.Errorf("insert alarm state: prepare: %w", err)
	}
	defer batch.Abort()
	for _, st := range states {
		if err := batch.Append(st.SiteID, st.PointID, st.State, version, st.Epoch); err != nil {
			return permanent(fmt.Errorf("insert alarm state: %w", err))
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert alarm state (%d): %w", len(states), err)
	}
	return nil
}

// LoadAlarmStates reads the newest checkpoint row of every point and site:
// of the highest epoch, the latest written.
func (s *Store) LoadAlarmStates(ctx context.Context) ([]AlarmState, error) {
	return s.loadAlarmStates(ctx, "")
}

// LoadSiteAlarmStates reads the newest checkpoint rows of one site.
func (s *Store) LoadSiteAlarmStates(ctx context.Context, siteID string) ([]AlarmState, error) {
	return s.loadAlarmStates(ctx, " WHERE site_id = ?", siteID)
}

// LoadSitesAlarmStates reads the newest checkpoint rows of sites, in one
// query for up to sitesPerQuery of them.
func (s *Store) LoadSitesAlarmStates(ctx context.Context, sites []string) ([]AlarmState, error) {
	var out []AlarmState
	for chunk := range slices.Chunk(sites, sitesPerQuery) {
		rows, err := s.loadAlarmStates(ctx, " WHERE site_id IN ?", inSet(chunk))
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

func (s *Store) loadAlarmStates(ctx context.Context, where string, args ...any) ([]AlarmState, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, conn, "load alarm state", func(rows driver.Rows) (AlarmState, error) {
		var st AlarmState
		err := rows.Scan(&st.SiteID, &st.PointID, &st.State, &st.Epoch)
		return st, err
	}, "SELECT site_id, point_id, argMax(state, (epoch, updated_ns)), max(epoch) FROM alarm_state"+where+
		" GROUP BY site_id, point_id", args...)
}
