package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Rollup tables: per point and per minute or hour, maintained by ClickHouse
// through materialized views on samples, so long trends read rollups rather
// than raw rows.
const (
	TableSamples1m = "samples_1m"
	TableSamples1h = "samples_1h"
	ViewSamples1m  = "samples_1m_mv"
	ViewSamples1h  = "samples_1h_mv"
)

// rollupDDL returns the rollup tables and the views that feed them.
//
// Every column is an aggregate state, read with the matching -Merge
// function (see docs/schema.md). min, max and last are idempotent; the
// counts and the sum would count a batch inserted twice, which Insert
// prevents by skipping batches the ledger already holds (see skipCommitted
// and docs/schema.md, "Deduplication").
func rollupDDL(caps Capabilities) []string {
	lc := lowCardinality(caps)
	// ZSTD for the states, as for samples' values: on current servers the
	// columns' codecs replace the server's LZ4 default (18.16 takes ZSTD
	// for whole parts from packaging/clickhouse/lifeline.xml instead).
	z, zd := "", ""
	if caps.Codecs {
		z, zd = " CODEC(ZSTD(1))", " CODEC(Delta, ZSTD(1))"
	}
	table := func(name string) string {
		return `CREATE TABLE IF NOT EXISTS ` + name + ` (
    site_id    ` + lc("String") + `,
    point_id   ` + lc("String") + z + `,
    bucket     DateTime('UTC')` + zd + `,
    samples    AggregateFunction(count)` + z + `,
    bad        AggregateFunction(sum, UInt64)` + z + `,
    numeric    AggregateFunction(sum, UInt64)` + z + `,
    sum_value  AggregateFunction(sum, Float64)` + z + `,
    min_value  AggregateFunction(min, Float64)` + z + `,
    max_value  AggregateFunction(max, Float64)` + z + `,
    last_value AggregateFunction(argMax, Float64, Int64)` + z + `,
    last_ns    AggregateFunction(max, Int64)` + z + `
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (site_id, point_id, bucket)`
	}
	return []string{
		table(TableSamples1m),
		`CREATE MATERIALIZED VIEW IF NOT EXISTS ` + ViewSamples1m + ` TO ` + TableSamples1m + ` AS
` + rollupSelect(caps, "toStartOfMinute(ts)", TableSamples),
		table(TableSamples1h),
		`CREATE MATERIALIZED VIEW IF NOT EXISTS ` + ViewSamples1h + ` TO ` + TableSamples1h + ` AS
` + hourSelect(caps),
	}
}

// hourSelect feeds samples_1h from the rows the minute view writes into
// samples_1m, not from samples, where the server lets a view see them
// (Capabilities.HourSource): an insert of many sites' batches
// makes about one minute row per two samples, and merging those states
// costs ClickHouse a fraction of aggregating the raw block a second time
// (make bench, section 1). Every state merges exactly, so the hour holds
// what it held when fed from samples; sum_value may differ in the last
// bits, its additions being grouped otherwise (as merges group them
// anyway). On 18.16 the chain reads from samples_1m_mv (a direct insert
// into samples_1m then does not reach the hour); on current servers from
// samples_1m (one does).
func hourSelect(caps Capabilities) string {
	if caps.HourSource == "" || caps.HourSource == TableSamples {
		return rollupSelect(caps, "toStartOfHour(ts)", TableSamples)
	}
	return `SELECT
    site_id,
    point_id,
    toStartOfHour(bucket) AS bucket,
    countMergeState(samples) AS samples,
    sumMergeState(bad) AS bad,
    sumMergeState(numeric) AS numeric,
    sumMergeState(sum_value) AS sum_value,
    minMergeState(min_value) AS min_value,
    maxMergeState(max_value) AS max_value,
    argMaxMergeState(last_value) AS last_value,
    maxMergeState(last_ns) AS last_ns
FROM ` + caps.HourSource + `
GROUP BY site_id, point_id, bucket`
}

// lowCardinality returns a function wrapping a type in LowCardinality when
// the server has it.
func lowCardinality(caps Capabilities) func(string) string {
	return func(t string) string {
		if caps.LowCardinality {
			return "LowCardinality(" + t + ")"
		}
		return t
	}
}

// rollupSelect is the SELECT that turns rows of source into rollup rows
// bucketed by the expression bucket: the body of the rollup views, and of
// the repair that rebuilds buckets from samples FINAL.
//
// Numeric aggregates take good, finite number and bool samples only, and
// the state types stay plain (AggregateFunction(sum, Float64)), so 18.16
// and current servers have the same tables. How the others are left out
// depends on the server (see Capabilities.NullableStates): 18.16 turns them
// into NULLs, which the aggregate functions skip without a trace in the
// state type; current servers take the -If combinators, whose states they
// convert to the plain ones (18.16 refuses that conversion). 18.16 cannot
// push a block through a view whose FROM is a subquery, so the condition
// is written out in each column.
func rollupSelect(caps Capabilities, bucket, source string) string {
	const ok = "(good = 1 AND value_type != 'text' AND isFinite(value))"
	agg := func(fn, args string) string {
		if caps.NullableStates {
			return fn + "IfState(" + args + ", " + ok + ")"
		}
		first, rest, _ := strings.Cut(args, ", ")
		if rest != "" {
			rest = ", " + rest
		}
		return fn + "State(if(" + ok + ", " + first + ", NULL)" + rest + ")"
	}
	return `SELECT
    site_id,
    point_id,
    ` + bucket + ` AS bucket,
    countState() AS samples,
    sumState(toUInt64(good = 0)) AS bad,
    sumState(toUInt64(` + ok + `)) AS numeric,
    ` + agg("sum", "value") + ` AS sum_value,
    ` + agg("min", "value") + ` AS min_value,
    ` + agg("max", "value") + ` AS max_value,
    ` + agg("argMax", "value, ts_ns") + ` AS last_value,
    ` + agg("max", "ts_ns") + ` AS last_ns
FROM ` + source + `
GROUP BY site_id, point_id, bucket`
}

// migrateHourView drops a samples_1h_mv that reads from another source
// than caps.HourSource (releases before it read samples); the CREATE
// statements that follow make it again. The rows of samples_1h stay: a
// view with TO writes into a table it does not own. Inserts must not run
// meanwhile (the aggregator migrates before it serves): one between the
// drop and the create would miss the hour rollup.
func (s *Store) migrateHourView(ctx context.Context, conn driver.Conn, caps Capabilities) error {
	var sources []string
	err := queryEach(ctx, conn, "source of "+ViewSamples1h, func(rows driver.Rows) error {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		sources = append(sources, name)
		return nil
	}, "SELECT name FROM system.tables WHERE database = currentDatabase() AND has(dependencies_table, ?)", ViewSamples1h)
	if err != nil {
		return err
	}
	if len(sources) == 0 || (len(sources) == 1 && sources[0] == caps.HourSource) {
		return nil
	}
	if err := conn.Exec(ctx, "DROP TABLE "+ViewSamples1h); err != nil {
		return fmt.Errorf("migrate %s: drop the view on %v: %w", ViewSamples1h, sources, err)
	}
	s.logger.Info("migrated rollups: samples_1h_mv made again", "was_from", sources, "now_from", caps.HourSource)
	return nil
}

// probeViewChain finds out which of samples_1m and samples_1m_mv a view
// must read from for the minute view's inserts to reach it: servers
// differ, and no system table tells. It builds the chain on Memory tables,
// inserts a row and sees which second view got it; it returns TableSamples
// when neither did, so the hour is fed from samples as before.
func probeViewChain(ctx context.Context, conn driver.Conn) (string, error) {
	// A name of its own, so aggregators starting together do not meet.
	tag := "lifeline_probe_" + strconv.FormatUint(rand.Uint64(), 36) + "_"
	src, mid, midView := tag+"src", tag+"mid", tag+"mid_mv"
	byTable, byView := tag+"by_table", tag+"by_view"
	names := []string{byView + "_mv", byTable + "_mv", midView, byView, byTable, mid, src}
	drop := func() error {
		for _, n := range names {
			if err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+n); err != nil {
				return fmt.Errorf("view chain probe: drop %s: %w", n, err)
			}
		}
		return nil
	}
	if err := drop(); err != nil {
		return "", err
	}
	stmts := []string{
		"CREATE TABLE " + src + " (x UInt8) ENGINE = Memory",
		"CREATE TABLE " + mid + " (x UInt8) ENGINE = Memory",
		"CREATE TABLE " + byTable + " (x UInt8) ENGINE = Memory",
		"CREATE TABLE " + byView + " (x UInt8) ENGINE = Memory",
		"CREATE MATERIALIZED VIEW " + midView + " TO " + mid + " AS SELECT x FROM " + src,
		"CREATE MATERIALIZED VIEW " + byTable + "_mv TO " + byTable + " AS SELECT x FROM " + mid,
		"CREATE MATERIALIZED VIEW " + byView + "_mv TO " + byView + " AS SELECT x FROM " + midView,
		"INSERT INTO " + src + " SELECT 1",
	}
	for _, stmt := range stmts {
		if err := conn.Exec(ctx, stmt); err != nil {
			_ = drop()
			return "", fmt.Errorf("view chain probe: %s: %w", firstWords(stmt), err)
		}
	}
	var viaTable, viaView uint64
	err := conn.QueryRow(ctx, "SELECT (SELECT count() FROM "+byTable+"), (SELECT count() FROM "+byView+")").Scan(&viaTable, &viaView)
	if dropErr := drop(); err == nil {
		err = dropErr
	}
	switch {
	case err != nil:
		return "", fmt.Errorf("view chain probe: %w", err)
	case viaTable == 1 && viaView == 0:
		return TableSamples1m, nil
	case viaView == 1 && viaTable == 0:
		return ViewSamples1m, nil
	}
	return TableSamples, nil
}
