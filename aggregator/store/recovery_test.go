package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// A gap record says what history backfill recovered, and a value read from
// the server's history is stored with backfill = 2.
func TestGapRecoveryAndHistorySamples(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	from := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	gap := &lifelinev1.Gap{PointIds: []string{"T1.LT", "T1.TT"}, FromNs: from.UnixNano(), ToNs: from.Add(time.Minute).UnixNano(),
		Reason: "agent_stopped", Recovery: "partial", Recovered: 42, UnrecoveredPointIds: []string{"T1.TT"}}
	smp := func(sec int, history bool) *lifelinev1.Sample {
		ts := from.Add(time.Duration(sec) * time.Second).UnixNano()
		return &lifelinev1.Sample{PointId: "T1.LT", SourceTimeNs: ts, ReceiveTimeNs: ts, Value: &lifelinev1.Sample_Number{Number: float64(sec)}, History: history}
	}
	b := &store.Batch{SiteID: "s1", Seq: 1, Gaps: []*lifelinev1.Gap{gap},
		Samples: []*lifelinev1.Sample{smp(10, true), smp(70, false)}}
	bb := &store.Batch{SiteID: "s1", Seq: 2, Backfill: true, Samples: []*lifelinev1.Sample{smp(20, true), smp(80, false)}}
	if err := s.Insert(ctx, []*store.Batch{b, bb}); err != nil {
		t.Fatal(err)
	}
	var (
		recovery string
		n        uint64
		unrec    []string
	)
	if err := s.Conn().QueryRow(ctx, "SELECT recovery, recovered, unrecovered_point_ids FROM gaps FINAL WHERE site_id = 's1'").
		Scan(&recovery, &n, &unrec); err != nil {
		t.Fatal(err)
	}
	if recovery != "partial" || n != 42 || len(unrec) != 1 || unrec[0] != "T1.TT" {
		t.Fatalf("gap: recovery=%q recovered=%d unrecovered=%v", recovery, n, unrec)
	}
	rows, err := s.Conn().Query(ctx, "SELECT ts_ns, backfill FROM samples FINAL WHERE site_id = 's1' ORDER BY ts_ns")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []uint8
	for rows.Next() {
		var ts int64
		var bf uint8
		if err := rows.Scan(&ts, &bf); err != nil {
			t.Fatal(err)
		}
		got = append(got, bf)
	}
	if want := []uint8{2, 2, 0, 1}; len(got) != 4 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Fatalf("backfill by source time: %v, want %v", got, want)
	}
}

// A gaps table made before the recovery columns gets them, its rows kept.
func TestMigrateGapsAddsRecovery(t *testing.T) {
	s := storetest.Open(t)
	ctx := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{
		"allow_experimental_low_cardinality_type": 1,
	}))
	for _, stmt := range []string{
		"DROP TABLE gaps",
		`CREATE TABLE gaps (site_id LowCardinality(String), seq UInt64, idx UInt32, buffer_id String DEFAULT '',
point_ids Array(String), from_ts DateTime('UTC'), to_ts DateTime('UTC'), from_ns Int64, to_ns Int64, samples UInt64,
reason LowCardinality(String), recorded_at DateTime('UTC') DEFAULT now())
ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(from_ts) ORDER BY (site_id, buffer_id, seq, idx)`,
		`INSERT INTO gaps (site_id, seq, idx, point_ids, from_ts, to_ts, from_ns, to_ns, samples, reason)
SELECT 'old', 9, 0, ['P1'], toDateTime(1700000000), toDateTime(1700000001), 0, 1, 5, 'agent_stopped' FROM system.one`,
	} {
		if err := s.Conn().Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	for range 2 { // a second Migrate changes nothing
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	var (
		reason, recovery string
		n                uint64
	)
	if err := s.Conn().QueryRow(ctx, "SELECT reason, recovery, recovered FROM gaps WHERE site_id = 'old'").Scan(&reason, &recovery, &n); err != nil {
		t.Fatal(err)
	}
	if reason != "agent_stopped" || recovery != "" || n != 0 {
		t.Fatalf("old row after migration: reason=%q recovery=%q recovered=%d", reason, recovery, n)
	}
	b := &store.Batch{SiteID: "new", Seq: 1, Gaps: []*lifelinev1.Gap{{FromNs: 1, ToNs: 2, Reason: "source_unavailable", Recovery: "not_available"}}}
	if err := s.Insert(ctx, []*store.Batch{b}); err != nil {
		t.Fatal(err)
	}
}
