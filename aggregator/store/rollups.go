package store

import "strings"

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
// Both views read samples. Feeding samples_1h from the minute view's rows
// instead (a view on samples_1m_mv with -MergeState on 18.16, on
// samples_1m on current servers: the chain differs by version) was
// measured: exact, but no cheaper for ClickHouse 18.16 per insert, as a
// view's cost follows the rows it writes, one per site, point and bucket.
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
	view := func(name, target, bucket string) string {
		return `CREATE MATERIALIZED VIEW IF NOT EXISTS ` + name + ` TO ` + target + ` AS
` + rollupSelect(caps, bucket, "samples")
	}
	return []string{
		table(TableSamples1m),
		view(ViewSamples1m, TableSamples1m, "toStartOfMinute(ts)"),
		table(TableSamples1h),
		view(ViewSamples1h, TableSamples1h, "toStartOfHour(ts)"),
	}
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
