package store_test

import (
	"context"
	"math"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// The schema as it was before buffer identities: the ledger and gaps keyed
// by (site_id, seq), samples without buffer_id.
var beforeIdentities = []string{
	"DROP TABLE ingest_batches_mv",
	"DROP TABLE ingest_batches",
	"DROP TABLE gaps",
	"ALTER TABLE samples DROP COLUMN buffer_id",
	`CREATE TABLE ingest_batches (site_id LowCardinality(String), seq UInt64, rows UInt64, inserts UInt64)
ENGINE = SummingMergeTree((rows, inserts)) ORDER BY (site_id, seq)`,
	`CREATE MATERIALIZED VIEW ingest_batches_mv TO ingest_batches AS
SELECT site_id, seq, count() AS rows, toUInt64(1) AS inserts FROM samples GROUP BY site_id, seq`,
	`CREATE TABLE gaps (site_id LowCardinality(String), seq UInt64, idx UInt32, point_ids Array(String),
from_ts DateTime('UTC'), to_ts DateTime('UTC'), from_ns Int64, to_ns Int64, samples UInt64,
reason LowCardinality(String), recorded_at DateTime('UTC') DEFAULT now())
ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(from_ts) ORDER BY (site_id, seq, idx)`,
	`INSERT INTO samples (site_id, point_id, ts, ts_ns, server_ns, recv_ns, value, value_text, value_type, status, good, seq, backfill)
SELECT 'old', 'P1', toDateTime(1700000000 + number), (1700000000 + number) * 1000000000, 0, 0, 1, '', 'number', 0, 1, intDiv(number, 10) + 1, 0
FROM numbers(50)`,
	`INSERT INTO gaps (site_id, seq, idx, point_ids, from_ts, to_ts, from_ns, to_ns, samples, reason)
SELECT 'old', 9, 0, ['P1'], toDateTime(1700000000), toDateTime(1700000001), 0, 1, 5, 'buffer_full' FROM system.one`,
}

// Migrating a ledger made before buffer identities keeps its rows under the
// legacy identity "", where an upgraded agent's old batches are looked up,
// and rebuilds it under the new key.
func TestMigrateLedgerToBufferIdentities(t *testing.T) {
	s := storetest.Open(t)
	ctx := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{
		"allow_experimental_low_cardinality_type": 1,
	}))
	for _, stmt := range beforeIdentities {
		if err := s.Conn().Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	for range 2 { // a second Migrate changes nothing
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	var key string
	if err := s.Conn().QueryRow(ctx, "SELECT sorting_key FROM system.tables WHERE database = currentDatabase() AND name = 'ingest_batches'").Scan(&key); err != nil {
		// 18.16 has no sorting_key column; the engine_full has it.
		if err := s.Conn().QueryRow(ctx, "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'ingest_batches'").Scan(&key); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("ledger key: %s", key)

	// An upgraded agent names its new identity; its legacy numbers are
	// found under "".
	got, err := s.Committed(ctx, store.Span{SiteID: "old", BufferID: "b1", From: 1, To: math.MaxUint64})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].GetFirst() != 1 || got[0].GetLast() != 5 {
		t.Fatalf("legacy ledger after migration: %v, want [1-5]", got)
	}
	var gaps uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM gaps WHERE site_id = 'old' AND buffer_id = ''").Scan(&gaps); err != nil || gaps != 1 {
		t.Fatalf("gaps after migration: %d, %v", gaps, err)
	}

	// New batches go under the identity and do not meet legacy numbers.
	first := lifelinev1.LegacySeqLimit | 1
	b := &store.Batch{SiteID: "old", BufferID: "b1", Seq: first, Samples: []*lifelinev1.Sample{num("P1", 1800000000e9, 1)}}
	if err := s.Insert(ctx, []*store.Batch{b}); err != nil {
		t.Fatal(err)
	}
	got, err = s.Committed(ctx, store.Span{SiteID: "old", BufferID: "b1", From: first, To: math.MaxUint64})
	if err != nil || len(got) != 1 || got[0].GetFirst() != first {
		t.Fatalf("committed under b1: %v, %v", got, err)
	}
	got, err = s.Committed(ctx, store.Span{SiteID: "old", BufferID: "b2", From: first, To: math.MaxUint64})
	if err != nil || len(got) != 0 {
		t.Fatalf("committed under b2: %v, %v; want none", got, err)
	}
}

// The ledger is pruned after LedgerDays: old months go, recent ones stay.
func TestLedgerRetention(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	if s.Capabilities().TTL {
		t.Skip("server has TTL; retention is a table TTL there")
	}
	stmt := "INSERT INTO ingest_batches (site_id, buffer_id, seq, rows, inserts, day) " +
		"SELECT 'S1', 'b', 1099511627776 + number + 1, 1, 1, if(number = 0, today() - 200, today()) FROM numbers(2)"
	if err := s.Conn().Exec(ctx, stmt); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyRetention(ctx, store.Retention{RawDays: 30, LedgerDays: 90}); err != nil {
		t.Fatal(err)
	}
	second := lifelinev1.LegacySeqLimit + 2
	got, err := s.Committed(ctx, store.Span{SiteID: "S1", BufferID: "b", From: 1, To: math.MaxUint64})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].GetFirst() != second || got[0].GetLast() != second {
		t.Fatalf("ledger after retention: %v, want only seq 2", got)
	}
}
