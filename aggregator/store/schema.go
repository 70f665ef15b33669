package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Table names. They, and their column names, are public API for analysts and
// dashboards: the same on every server version.
const (
	TableSamples       = "samples"
	TableIngestBatches = "ingest_batches"
	ViewIngestBatches  = "ingest_batches_mv"
	TablePoints        = "points"
	TableSites         = "sites"
)

// ddl returns the CREATE statements for caps, in order. Every statement is
// idempotent (IF NOT EXISTS).
func ddl(caps Capabilities) []string {
	lc := func(t string) string {
		if caps.LowCardinality {
			return "LowCardinality(" + t + ")"
		}
		return t
	}
	codec := func(c string) string {
		if caps.Codecs {
			return " CODEC(" + c + ")"
		}
		return ""
	}
	ts := "DateTime('UTC')"
	if caps.DateTime64 {
		ts = "DateTime64(3, 'UTC')"
	}

	// Codecs as measured on plantsim data by make bench (docs/benchmarks.md,
	// section 5): Delta beats DoubleDelta on every time column (source and
	// receive times jitter, so second differences are noise), and plain
	// ZSTD beats Gorilla and FPC on values, which instruments round to a
	// few decimals (Gorilla alone nearly doubles the column).
	samples := `CREATE TABLE IF NOT EXISTS samples (
    site_id     ` + lc("String") + `,
    point_id    ` + lc("String") + codec("ZSTD(1)") + `,
    ts          ` + ts + codec("Delta, ZSTD(1)") + `,
    ts_ns       Int64` + codec("Delta, ZSTD(1)") + `,
    server_ns   Int64` + codec("Delta, ZSTD(1)") + `,
    recv_ns     Int64` + codec("Delta, ZSTD(1)") + `,
    value       Float64` + codec("ZSTD(3)") + `,
    value_text  String` + codec("ZSTD(1)") + `,
    value_type  Enum8('number' = 1, 'bool' = 2, 'text' = 3),
    status      UInt32` + codec("ZSTD(1)") + `,
    good        UInt8,
    seq         UInt64` + codec("Delta, ZSTD(1)") + `,
    backfill    UInt8,
    buffer_id   ` + lc("String") + ` DEFAULT '',
    inserted_at DateTime('UTC') DEFAULT now()` + codec("ZSTD(1)") + `
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (site_id, point_id, ts_ns)
SETTINGS index_granularity = 8192`

	ingestBatches := ingestBatchesDDL(lc)

	ingestBatchesMV := `CREATE MATERIALIZED VIEW IF NOT EXISTS ingest_batches_mv TO ingest_batches AS
SELECT site_id, buffer_id, seq, count() AS rows, toUInt64(1) AS inserts, today() AS day
FROM samples
GROUP BY site_id, buffer_id, seq`

	points := `CREATE TABLE IF NOT EXISTS points (
    site_id        ` + lc("String") + `,
    point_id       String,
    name           String,
    description    String,
    unit           String,
    kind           ` + lc("String") + `,
    range_low      Nullable(Float64),
    range_high     Nullable(Float64),
    ll             Nullable(Float64),
    l              Nullable(Float64),
    h              Nullable(Float64),
    hh             Nullable(Float64),
    stage1         Nullable(Float64),
    stage2         Nullable(Float64),
    deadband       Float64,
    hazard_code    String,
    hazard_name    String,
    hazard_level   UInt8,
    equipment      String,
    endpoint       String,
    node_id        String,
    out_of_service UInt8,
    updated_at     DateTime('UTC'),
    on_delay_ms    Int64 DEFAULT 0,
    off_delay_ms   Int64 DEFAULT 0
) ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (site_id, point_id)`

	sites := `CREATE TABLE IF NOT EXISTS sites (
    site_id       String,
    park          String,
    agent_version String,
    updated_at    DateTime('UTC')
) ENGINE = ReplacingMergeTree(updated_at)
ORDER BY site_id`

	stmts := []string{samples, ingestBatches, ingestBatchesMV, points, sites}
	stmts = append(stmts, gapsDDL(caps), agentsDDL(caps), rejectedDDL(caps), pointLivenessDDL(caps),
		conditionEventsDDL(caps))
	stmts = append(stmts, rollupDDL(caps)...)
	stmts = append(stmts, registryDDL(caps)...)
	stmts = append(stmts, alarmDDL(caps)...)
	stmts = append(stmts, reportDDL(), alarmActionsDDL(), siteOwnersDDL())
	stmts = append(stmts, notifyDDL(caps)...)
	return append(stmts, forwardDDL()...)
}

// Migrate creates every table and view that is missing. It is idempotent.
// Existing tables are altered only to bring a schema made before buffer
// identities up to date (see migrateIdentity).
func (s *Store) Migrate(ctx context.Context) error {
	conn, caps, err := s.connCaps()
	if err != nil {
		return err
	}
	if caps.LowCardinalitySetting {
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
			"allow_experimental_low_cardinality_type": 1,
		}))
	}
	stmts := ddl(caps)
	if s.cfg.Cluster != "" {
		// A cluster starts at the current schema: a single server is
		// brought up to date before it moves (docs/scaling.md).
		if err := checkClusterProfile(ctx, conn, caps, s.cfg.Cluster); err != nil {
			return err
		}
		var err error
		if stmts, err = clusterDDL(stmts, s.cfg.Cluster, s.cfg.Database); err != nil {
			return err
		}
	} else if err := s.migrateOld(ctx, conn, caps); err != nil {
		return err
	}
	for _, stmt := range stmts {
		if err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("migrate %s: %w", objectName(stmt), err)
		}
	}
	return nil
}

// migrateOld alters tables made by older releases of a single server.
func (s *Store) migrateOld(ctx context.Context, conn driver.Conn, caps Capabilities) error {
	if err := s.migrateIdentity(ctx, conn, caps); err != nil {
		return err
	}
	if err := s.migrateGapRecovery(ctx, conn, caps); err != nil {
		return err
	}
	if err := s.migratePointDelays(ctx, conn); err != nil {
		return err
	}
	return s.migrateEpochs(ctx, conn)
}

// objectName extracts the table or view name from a CREATE statement.
func objectName(stmt string) string {
	const marker = "IF NOT EXISTS "
	i := strings.Index(stmt, marker)
	if i < 0 {
		return "?"
	}
	name, _, _ := strings.Cut(stmt[i+len(marker):], " ")
	return name
}

// ingestBatchesDDL is the ledger: one row per committed batch, keyed so that
// a handshake reads one buffer's span of it (site, buffer, seq range).
// SummingMergeTree drops rows whose summed columns are all zero on merge;
// inserts is never zero, so empty batches (rows = 0) stay. day (when the
// batch was committed) partitions it, so retention drops old months whole.
func ingestBatchesDDL(lc func(string) string) string {
	return `CREATE TABLE IF NOT EXISTS ingest_batches (
    site_id   ` + lc("String") + `,
    buffer_id ` + lc("String") + `,
    seq       UInt64,
    rows      UInt64,
    inserts   UInt64,
    day       Date DEFAULT today()
) ENGINE = SummingMergeTree((rows, inserts))
PARTITION BY toYYYYMM(day)
ORDER BY (site_id, buffer_id, seq)
SETTINGS index_granularity = 8192`
}
