package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Capabilities are the features of the connected server that the schema and
// the inserts depend on.
type Capabilities struct {
	// Version is the server's version string, e.g. "18.16.1" or "24.8.4.13".
	Version string
	// DateTime64 means samples.ts is DateTime64(3, 'UTC'); otherwise it is
	// DateTime('UTC') with whole seconds (ts_ns stays exact either way).
	DateTime64 bool
	// LowCardinality means site_id and point_id are LowCardinality(String).
	LowCardinality bool
	// LowCardinalitySetting means CREATE needs
	// allow_experimental_low_cardinality_type = 1 (18.x).
	LowCardinalitySetting bool
	// Codecs means column CODECs (Delta, ZSTD, …).
	Codecs bool
	// TTL means table TTL clauses.
	TTL bool
	// NullableStates means the state of an aggregate over a Nullable
	// argument keeps Nullable in its type (sumState(Nullable(Float64)) is
	// AggregateFunction(sum, Nullable(Float64)), which a column of
	// AggregateFunction(sum, Float64) refuses), and -If states convert to
	// the plain ones instead. 18.16 strips Nullable and refuses -If states.
	NullableStates bool
	// DimensionsSetting means an AggregatingMergeTree with plain columns
	// outside its sorting key needs allow_dimensions_outside_sorting_key
	// (point_versions: every plain column follows from the version hash in
	// its key). Servers without the setting take such tables as they are.
	DimensionsSetting bool
}

// detectCapabilities asks the server what it supports: types from
// system.data_type_families, features from the system tables that came
// with them, never from the version number.
func detectCapabilities(ctx context.Context, conn driver.Conn) (Capabilities, error) {
	var c Capabilities
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&c.Version); err != nil {
		return c, fmt.Errorf("server version: %w", err)
	}
	// Column codecs came with system.columns.compression_codec (19.1),
	// TTL with the merge_with_ttl_timeout setting (19.6).
	var codecs, ttl uint64
	if err := conn.QueryRow(ctx, `SELECT
    (SELECT count() FROM system.columns WHERE database = 'system' AND table = 'columns' AND name = 'compression_codec'),
    (SELECT count() FROM system.merge_tree_settings WHERE name = 'merge_with_ttl_timeout')`).Scan(&codecs, &ttl); err != nil {
		return c, fmt.Errorf("codecs and ttl: %w", err)
	}
	c.Codecs, c.TTL = codecs > 0, ttl > 0

	rows, err := conn.Query(ctx, "SELECT name FROM system.data_type_families WHERE name IN ('DateTime64', 'LowCardinality')")
	if err != nil {
		return c, fmt.Errorf("type families: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return c, fmt.Errorf("type families: %w", err)
		}
		switch name {
		case "DateTime64":
			c.DateTime64 = true
		case "LowCardinality":
			c.LowCardinality = true
		}
	}
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("type families: %w", err)
	}

	var stateType string
	if err := conn.QueryRow(ctx, "SELECT toTypeName(sumState(toNullable(toFloat64(1))))").Scan(&stateType); err != nil {
		return c, fmt.Errorf("aggregate state type: %w", err)
	}
	c.NullableStates = strings.Contains(stateType, "Nullable")

	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.merge_tree_settings WHERE name = 'allow_dimensions_outside_sorting_key'").Scan(&n); err != nil {
		return c, fmt.Errorf("merge tree settings: %w", err)
	}
	c.DimensionsSetting = n > 0

	if c.LowCardinality {
		// Present and "0" on 18.x; obsolete (or absent) and harmless later.
		var value string
		err := conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'allow_experimental_low_cardinality_type'").Scan(&value)
		switch {
		case err == nil:
			c.LowCardinalitySetting = value == "0"
		case errors.Is(err, sql.ErrNoRows):
		default:
			return c, fmt.Errorf("low cardinality setting: %w", err)
		}
	}
	return c, nil
}
