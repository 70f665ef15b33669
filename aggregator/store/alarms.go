package store

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
    version      UInt8
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
    updated_ns UInt64
) ENGINE = ReplacingMergeTree(updated_ns)
ORDER BY (site_id, point_id)`
	return []string{events, state}
}
