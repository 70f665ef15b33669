package dashboards

// The layout of each dashboard kind.

func overview(b *builder) {
	b.add(panel{typ: "stat", key: "overview.online", file: "overview_online.sql", w: 6, h: 6,
		opts:  map[string]any{"reduceOptions": map[string]any{"calcs": []any{"lastNotNull"}, "fields": "/.*/"}, "textMode": "value_and_name"},
		trans: b.rename("online", "total")})
	b.add(panel{typ: "timeseries", key: "overview.samples", file: "overview_samples.sql", w: 18, h: 6, unit: "short"})
	b.add(panel{typ: "table", key: "overview.sites", file: "overview_sites.sql", w: 12, h: 10,
		over: []any{
			colored("online", b.valueMap("online", onlineColors)),
			unitOverride("online_rate", "percentunit"),
			unitOverride("last_seen", "dateTimeFromNow"),
		},
		trans: b.rename("site_id", "online", "last_seen", "points", "reporting", "online_rate", "backlog_batches")})
	b.add(panel{typ: "table", key: "overview.hazards", file: "overview_hazards.sql", w: 12, h: 10,
		over: []any{
			colored("level", b.valueMap("level", levelColors)),
			colored("state", b.valueMap("state", stateColors)),
		},
		trans: b.rename("level", "hazard_code", "hazard_name", "site_id", "points", "alarming", "state")})
	b.add(panel{typ: "bargauge", key: "overview.alarms", file: "overview_alarms.sql", w: 8, h: 8,
		opts: map[string]any{"orientation": "horizontal", "displayMode": "basic",
			"reduceOptions": map[string]any{"calcs": []any{"lastNotNull"}, "values": true, "fields": "/^active$/"}},
		field: map[string]any{"displayName": "${__data.fields.priority}",
			"color": map[string]any{"mode": "thresholds"},
			"thresholds": map[string]any{"mode": "absolute", "steps": []any{
				map[string]any{"color": green, "value": nil}, map[string]any{"color": red, "value": 1}}}},
		over: []any{colored("priority", b.valueMap("priority", priorityColors))}})
	b.add(panel{typ: "table", key: "overview.gaps", file: "overview_gaps.sql", w: 16, h: 8,
		trans: b.rename("from_ts", "to_ts", "site_id", "points", "samples", "reason")})
}

func enterprise(b *builder) {
	b.add(panel{typ: "table", key: "enterprise.hazards", file: "enterprise_hazards.sql", w: 10, h: 8,
		over:  []any{colored("level", b.valueMap("level", levelColors))},
		trans: b.rename("level", "hazard_code", "hazard_name", "equipment", "points")})
	b.add(panel{typ: "table", key: "enterprise.points", file: "enterprise_points.sql", w: 14, h: 8,
		over:  []any{colored("state", b.valueMap("state", stateColors))},
		trans: b.rename("point_id", "name", "kind", "value", "unit", "ll", "l", "h", "hh", "stage1", "stage2", "state", "last_ts")})
	b.add(panel{typ: "timeseries", key: "enterprise.trend", file: "enterprise_trend.sql", w: 24, h: 10})
}

func hazard(b *builder) {
	b.add(panel{typ: "table", key: "hazard.points", file: "hazard_points.sql", w: 24, h: 9,
		over: []any{colored("state", b.valueMap("state", stateColors))},
		trans: b.rename("point_id", "name", "kind", "equipment", "value", "unit",
			"ll", "l", "h", "hh", "stage1", "stage2", "state", "last_ts")})
	for _, k := range []string{"level", "temperature", "pressure", "gas"} {
		b.add(panel{typ: "timeseries", key: "hazard." + k, file: "hazard_" + k + ".sql", w: 12, h: 8})
	}
}

// limitSeries draws alarm limits as dashed flat lines: LL/HH and stage 2
// red, L/H and stage 1 orange.
func (b *builder) limitSeries() []any {
	var out []any
	for _, l := range []struct{ name, color string }{
		{"LL", red}, {"L", orange}, {"H", orange}, {"HH", red}, {"S1", orange}, {"S2", red},
	} {
		out = append(out, map[string]any{
			"matcher": map[string]any{"id": "byName", "options": l.name},
			"properties": []any{
				map[string]any{"id": "displayName", "value": tr(b.o.Lang, "col."+l.name)},
				map[string]any{"id": "color", "value": map[string]any{"mode": "fixed", "fixedColor": l.color}},
				map[string]any{"id": "custom.lineStyle", "value": map[string]any{"fill": "dash", "dash": []any{10, 10}}},
			},
		})
	}
	for _, c := range []string{"low", "high"} {
		out = append(out, map[string]any{
			"matcher": map[string]any{"id": "byName", "options": c},
			"properties": []any{
				map[string]any{"id": "displayName", "value": tr(b.o.Lang, "col."+c)},
				map[string]any{"id": "custom.lineWidth", "value": 0},
				map[string]any{"id": "custom.fillOpacity", "value": 10},
			},
		})
	}
	return out
}

func point(b *builder) {
	b.add(panel{typ: "timeseries", key: "point.trend", file: "point_trend.sql", w: 18, h: 10, over: b.limitSeries(),
		field: map[string]any{"custom": map[string]any{"spanNulls": false}}})
	b.add(panel{typ: "stat", key: "point.last", file: "point_last.sql", w: 6, h: 10,
		opts: map[string]any{"reduceOptions": map[string]any{"calcs": []any{"lastNotNull"}, "fields": "/^last_value$/"}}})
	b.add(panel{typ: "timeseries", key: "point.quality", file: "point_quality.sql", w: 12, h: 7,
		field: map[string]any{"custom": map[string]any{"drawStyle": "bars", "stacking": map[string]any{"mode": "normal"}}},
		over: []any{map[string]any{
			"matcher":    map[string]any{"id": "byName", "options": "bad_samples"},
			"properties": []any{map[string]any{"id": "color", "value": map[string]any{"mode": "fixed", "fixedColor": red}}},
		}}})
	b.add(panel{typ: "table", key: "point.info", file: "point_info.sql", w: 12, h: 7,
		opts: map[string]any{"showHeader": true},
		trans: append(b.rename("point_id", "name", "description", "kind", "unit", "range_low", "range_high",
			"ll", "l", "h", "hh", "stage1", "stage2", "deadband", "hazard_code", "hazard_name", "hazard_level",
			"equipment", "node_id", "out_of_service"),
			map[string]any{"id": "reduce", "options": map[string]any{"reducers": []any{"lastNotNull"}}})})
	b.annotation("point.gaps", "point_gaps.sql", grey)
}

func agents(b *builder) {
	b.add(panel{typ: "table", key: "agents.status", file: "agents_status.sql", w: 24, h: 9,
		over: []any{
			colored("online", b.valueMap("online", onlineColors)),
			unitOverride("last_seen", "dateTimeFromNow"),
			unitOverride("backlog_bytes", "bytes"),
			unitOverride("backlog_age_s", "s"),
			unitOverride("cert_days_left", "d"),
		},
		trans: b.rename("site_id", "online", "last_seen", "agent_version", "backlog_batches", "backlog_bytes",
			"backlog_age_s", "drain_rate", "sources_connected", "sources_total", "cert_days_left")})
	b.add(panel{typ: "timeseries", key: "agents.backlog", file: "agents_backlog.sql", w: 12, h: 8, unit: "short"})
	b.add(panel{typ: "timeseries", key: "agents.drain", file: "agents_drain.sql", w: 12, h: 8, unit: "short"})
	b.add(panel{typ: "table", key: "agents.forward", file: "agents_forward.sql", w: 24, h: 6,
		over: []any{
			unitOverride("lag_s", "s"),
			unitOverride("backlog_s", "s"),
			unitOverride("cursor_age_s", "s"),
		},
		trans: b.rename("target", "lag_s", "backlog_s", "cursor_age_s")})
}

func alarms(b *builder) {
	b.add(panel{typ: "table", key: "alarms.kpi", file: "alarms_kpi.sql", w: 24, h: 4,
		over:  []any{unitOverride("flood_share", "percentunit"), unitOverride("avg_per_10min", "none")},
		trans: b.rename("alarms", "avg_per_10min", "max_per_10min", "flood_share", "chattering", "stale")})
	b.add(panel{typ: "table", key: "alarms.active", file: "alarms_active.sql", w: 24, h: 9,
		over: []any{
			colored("priority", b.valueMap("priority", priorityColors)),
			colored("condition", b.valueMap("state", stateColors)),
			unitOverride("active_s", "s"),
		},
		trans: b.rename("raised_at", "site_id", "point_id", "condition", "priority", "value", "limit_value",
			"active_s", "hazard_code", "backfill")})
	// Acknowledgement (alarm_actions, written by the console): how fast
	// operators acknowledge, and what waits longer than it should.
	b.add(panel{typ: "table", key: "alarms.ack_kpi", file: "alarms_ack_kpi.sql", w: 24, h: 4,
		over: []any{unitOverride("mean_ack_s", "s"), unitOverride("p90_ack_s", "s"),
			colored("overdue", map[string]any{"type": "range", "options": map[string]any{
				"from": 1, "to": 1e12, "result": map[string]any{"color": red, "index": 0}}})},
		trans: b.rename("alarms", "acknowledged", "unacknowledged", "overdue", "shelved", "mean_ack_s", "p90_ack_s")})
	b.add(panel{typ: "table", key: "alarms.ack", file: "alarms_ack.sql", w: 24, h: 9,
		over: []any{
			colored("priority", b.valueMap("priority", priorityColors)),
			colored("ack_state", b.valueMap("ack", ackColors)),
			unitOverride("ack_s", "s"),
		},
		trans: b.rename("raised_at", "site_id", "point_id", "condition", "priority", "state", "ack_state", "acked_by",
			"ack_s", "cause", "measures")})
	// ISA-18.2: about one alarm per 10 minutes is manageable, more than 10 a flood.
	b.add(panel{typ: "timeseries", key: "alarms.rate", file: "alarms_rate.sql", w: 12, h: 8,
		field: map[string]any{
			"custom": map[string]any{"drawStyle": "bars", "thresholdsStyle": map[string]any{"mode": "line+area"}},
			"thresholds": map[string]any{"mode": "absolute", "steps": []any{
				map[string]any{"color": "transparent", "value": nil},
				map[string]any{"color": orange, "value": 2},
				map[string]any{"color": red, "value": 10}}}}})
	b.add(panel{typ: "table", key: "alarms.bad_actors", file: "alarms_bad_actors.sql", w: 12, h: 8,
		over: []any{
			colored("condition", b.valueMap("state", stateColors)),
			unitOverride("total_active_s", "s"),
		},
		trans: b.rename("site_id", "point_id", "condition", "raises", "max_per_minute", "total_active_s")})
	b.add(panel{typ: "table", key: "alarms.history", file: "alarms_history.sql", w: 24, h: 10,
		over: []any{
			colored("priority", b.valueMap("priority", priorityColors)),
			colored("condition", b.valueMap("state", stateColors)),
			unitOverride("duration_s", "s"),
		},
		trans: b.rename("raised_at", "cleared_at", "site_id", "point_id", "condition", "priority", "value",
			"limit_value", "peak_value", "duration_s", "state")})
	// The DCS's own alarms beside the computed ones: the plant's alarm
	// system as its operators saw it, for comparison.
	b.add(panel{typ: "table", key: "alarms.dcs", file: "alarms_dcs.sql", w: 24, h: 10,
		trans: b.rename("time", "site_id", "source", "source_name", "condition_name", "severity", "state", "message", "live")})
}
