package store

import (
	"strings"
	"testing"
)

// Every table of the single-server schema becomes a replicated local table
// and a Distributed one of the same name; every view reads and writes local
// tables. The statements run on 18.16 in make test-cluster.
func TestClusterDDL(t *testing.T) {
	caps := Capabilities{Version: "18.16.1", LowCardinality: true, LowCardinalitySetting: true}
	single := ddl(caps)
	got, err := clusterDDL(single, "prov", "lifeline")
	if err != nil {
		t.Fatal(err)
	}
	tables, views := 0, 0
	for _, stmt := range single {
		if strings.HasPrefix(stmt, createTable) {
			tables++
		} else {
			views++
		}
	}
	if len(got) != 2*tables+views {
		t.Fatalf("%d statements for %d tables and %d views", len(got), tables, views)
	}
	joined := strings.Join(got, "\n")
	for _, want := range []string{
		"CREATE TABLE IF NOT EXISTS lifeline.samples_local ON CLUSTER prov (\n",
		") ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/lifeline/samples', '{replica}')\nPARTITION BY toYYYYMM(ts)",
		"ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/lifeline/ingest_batches', '{replica}', (rows, inserts))",
		"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/lifeline/alarm_events', '{replica}', version)",
		"ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/lifeline/samples_1m', '{replica}')",
		"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/lifeline/agents', '{replica}')",
		"CREATE TABLE IF NOT EXISTS lifeline.samples ON CLUSTER prov AS lifeline.samples_local\nENGINE = Distributed(prov, lifeline, samples_local, sipHash64(site_id))",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS lifeline.ingest_batches_mv ON CLUSTER prov TO lifeline.ingest_batches_local AS\n",
		"FROM lifeline.samples_local\nGROUP BY site_id, buffer_id, seq",
		"FROM lifeline.points_local\n",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("cluster schema lacks %q", want)
		}
	}
	if strings.Contains(joined, "FROM samples\n") || strings.Contains(joined, " TO samples_1m ") {
		t.Error("a view reads or writes a Distributed table")
	}
}
