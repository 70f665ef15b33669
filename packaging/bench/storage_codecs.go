package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// codecColumn is a samples column and the codecs tried on it; the first
// with no name is the server's default (LZ4).
type codecColumn struct {
	name, typ string
	codecs    []string
}

// codecCandidates are tried on ClickHouse 26 with the samples' own sort
// order (site, point, source time), so each column compresses as it does in
// samples. The schema's choices (aggregator/store/schema.go) come from this.
var codecCandidates = []codecColumn{
	{"ts", "DateTime64(3, 'UTC')", []string{"", "ZSTD(1)", "Delta, ZSTD(1)", "DoubleDelta, ZSTD(1)", "T64, ZSTD(1)", "DoubleDelta, ZSTD(3)"}},
	{"ts_ns", "Int64", []string{"", "ZSTD(1)", "Delta, ZSTD(1)", "DoubleDelta, ZSTD(1)", "T64, ZSTD(1)", "DoubleDelta, ZSTD(3)"}},
	{"server_ns", "Int64", []string{"", "ZSTD(1)", "Delta, ZSTD(1)", "DoubleDelta, ZSTD(1)", "T64, ZSTD(1)", "Delta, ZSTD(3)"}},
	{"recv_ns", "Int64", []string{"", "ZSTD(1)", "Delta, ZSTD(1)", "DoubleDelta, ZSTD(1)", "T64, ZSTD(1)", "Delta, ZSTD(3)"}},
	{"value", "Float64", []string{"", "ZSTD(1)", "Gorilla, ZSTD(1)", "FPC, ZSTD(1)", "ZSTD(3)", "ZSTD(6)", "ALP"}},
	{"seq", "UInt64", []string{"", "ZSTD(1)", "Delta, ZSTD(1)", "DoubleDelta, ZSTD(1)", "T64, ZSTD(1)", "Delta, ZSTD(3)"}},
	{"status", "UInt32", []string{"", "ZSTD(1)", "T64, ZSTD(1)", "T64, LZ4"}},
	{"inserted_at", "DateTime('UTC')", []string{"", "ZSTD(1)", "Delta, ZSTD(1)", "DoubleDelta, ZSTD(1)", "T64, ZSTD(1)"}},
}

// codecTrials copies samples once per round of candidates into a table of
// the same sort order and notes each column's compressed bytes per sample
// under each codec, best first.
func codecTrials(ctx context.Context, conn driver.Conn, sec *Section) error {
	var samples uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM samples").Scan(&samples); err != nil {
		return err
	}
	// ALP (floats with few decimals) is experimental in 26.x: measured
	// here, not used by the schema.
	if err := conn.Exec(ctx, "SET allow_experimental_codecs = 1"); err != nil {
		return err
	}
	rounds := 0
	for _, c := range codecCandidates {
		rounds = max(rounds, len(c.codecs))
	}
	sizes := map[string]map[string]float64{} // column → codec → bytes/sample
	for round := range rounds {
		got, err := codecTrialRound(ctx, conn, round)
		if err != nil {
			return fmt.Errorf("codec trial %d: %w", round, err)
		}
		for _, c := range codecCandidates {
			if round >= len(c.codecs) {
				continue
			}
			label := c.codecs[round]
			if label == "" {
				label = "LZ4 (default)"
			}
			if sizes[c.name] == nil {
				sizes[c.name] = map[string]float64{}
			}
			sizes[c.name][label] = float64(got[c.name]) / float64(samples)
		}
	}
	for _, c := range codecCandidates {
		sec.note("ClickHouse 26 codec trial, `%s` (compressed bytes/sample, best first): %s.", c.name, bestFirst(sizes[c.name]))
	}
	return nil
}

// codecTrialRound copies samples into a table whose columns take their
// round-th candidate codec and returns each column's compressed bytes.
func codecTrialRound(ctx context.Context, conn driver.Conn, round int) (map[string]uint64, error) {
	var cols, names []string
	for _, c := range codecCandidates {
		codec := c.codecs[min(round, len(c.codecs)-1)]
		def := c.name + " " + c.typ
		if codec != "" {
			def += " CODEC(" + codec + ")"
		}
		cols = append(cols, def)
		names = append(names, c.name)
	}
	table := fmt.Sprintf("codec_trial_%d", round)
	for _, stmt := range []string{
		"CREATE TABLE " + table + " (site_id LowCardinality(String), point_id LowCardinality(String), " +
			strings.Join(cols, ", ") + ") ENGINE = MergeTree ORDER BY (site_id, point_id, ts_ns)",
		"INSERT INTO " + table + " SELECT site_id, point_id, " + strings.Join(names, ", ") + " FROM samples",
		"OPTIMIZE TABLE " + table + " FINAL",
	} {
		if err := conn.Exec(ctx, stmt); err != nil {
			return nil, err
		}
	}
	// A trial table left behind goes with the run's directory.
	defer func() { _ = conn.Exec(ctx, "DROP TABLE "+table) }()
	rows, err := conn.Query(ctx, "SELECT name, data_compressed_bytes FROM system.columns WHERE database = currentDatabase() AND table = ?", table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	got := map[string]uint64{}
	for rows.Next() {
		var name string
		var bytes uint64
		if err := rows.Scan(&name, &bytes); err != nil {
			return nil, err
		}
		got[name] = bytes
	}
	return got, rows.Err()
}

// bestFirst lists codecs by their size, smallest first.
func bestFirst(sizes map[string]float64) string {
	codecs := make([]string, 0, len(sizes))
	for c := range sizes {
		codecs = append(codecs, c)
	}
	sort.Slice(codecs, func(i, j int) bool {
		a, b := sizes[codecs[i]], sizes[codecs[j]]
		return a < b || a == b && codecs[i] < codecs[j]
	})
	parts := make([]string, len(codecs))
	for i, c := range codecs {
		parts[i] = fmt.Sprintf("%s %.3f", c, sizes[c])
	}
	return strings.Join(parts, "; ")
}
