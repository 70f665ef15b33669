package store

import (
	"slices"
	"strings"
	"testing"
)

// The schema for a current server (every capability) has the same tables,
// views and columns as the one 18.16 runs, with the current types.
func TestSchemaForCurrentServers(t *testing.T) {
	old := Capabilities{Version: "18.16.1", LowCardinality: true, LowCardinalitySetting: true}
	current := Capabilities{Version: "26.7.2.1", DateTime64: true, LowCardinality: true, Codecs: true, TTL: true, NullableStates: true, DimensionsSetting: true}
	a, b := ddl(old), ddl(current)
	if len(a) != len(b) {
		t.Fatalf("%d statements on 18.16, %d on current servers", len(a), len(b))
	}
	seen := map[string]bool{}
	for i := range a {
		name := objectName(b[i])
		if name != objectName(a[i]) || name == "?" || seen[name] {
			t.Fatalf("statement %d: %s vs %s", i, objectName(a[i]), name)
		}
		seen[name] = true
		if !slices.Equal(ddlColumns(a[i]), ddlColumns(b[i])) {
			t.Errorf("%s: columns differ:\n 18.16   %v\n current %v", name, ddlColumns(a[i]), ddlColumns(b[i]))
		}
	}
	for _, want := range []string{
		"samples_1m", "samples_1m_mv", "samples_1h", "samples_1h_mv", "alarm_events", "alarm_state",
		"point_versions", "point_versions_mv", "point_out_of_service", "enterprises", "hazard_sources", "equipment",
	} {
		if !seen[want] {
			t.Errorf("no %s in the schema", want)
		}
	}
	joined := strings.Join(b, "\n")
	for _, want := range []string{"DateTime64(3, 'UTC')", "CODEC(", "LowCardinality(String)"} {
		if !strings.Contains(joined, want) {
			t.Errorf("current schema lacks %s", want)
		}
	}
	for _, stmt := range a {
		for _, banned := range []string{"DateTime64", "CODEC(", "TTL", "toStartOfInterval", "SimpleAggregateFunction"} {
			if strings.Contains(stmt, banned) {
				t.Errorf("18.16 schema uses %s in %s", banned, objectName(stmt))
			}
		}
	}
}

func TestRetentionStatements(t *testing.T) {
	got := retentionDDL(DefaultRetention())
	want := []string{
		"ALTER TABLE samples MODIFY TTL toDateTime(ts) + INTERVAL 30 DAY",
		"ALTER TABLE samples_1m MODIFY TTL toDateTime(bucket) + INTERVAL 400 DAY",
		"ALTER TABLE point_liveness MODIFY TTL toDateTime(minute) + INTERVAL 400 DAY",
		"ALTER TABLE ingest_batches MODIFY TTL toDateTime(day) + INTERVAL 90 DAY",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("retention DDL:\n got %q\nwant %q", got, want)
	}
	if err := (Retention{RawDays: 7}).Validate(); err == nil || !strings.Contains(err.Error(), "at least 30 days") {
		t.Fatalf("7 raw days: %v", err)
	}
}
