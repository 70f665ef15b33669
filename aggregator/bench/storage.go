package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

const storageTarget = 6.0 // bytes per sample

// storage reports bytes on disk per sample of the plantsim data the agent
// run stored, for the samples table and every other table of the schema
// (the ledger, rollups), after merging.
func (r *Runner) storage(ctx context.Context, sec *Section) error {
	if r.agentDB == "" {
		return errors.New("needs the agent section's data (run it with -only agent,storage)")
	}
	defer r.ch.dropDatabase(r.agentDB)
	conn, err := r.ch.open(r.agentDB)
	if err != nil {
		return err
	}
	defer conn.Close()
	return storagePerSample(ctx, conn, r.agentDB, sec, "plantsim data", true)
}

// storagePerSample merges every table of db and adds a row per table of
// bytes on disk per row of samples; withTarget puts the bar on the
// samples row.
func storagePerSample(ctx context.Context, conn driver.Conn, db string, sec *Section, what string, withTarget bool) error {
	tables, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? AND engine LIKE '%MergeTree'", db)
	if err != nil {
		return err
	}
	var names []string
	for tables.Next() {
		var n string
		if err := tables.Scan(&n); err != nil {
			tables.Close()
			return err
		}
		names = append(names, n)
	}
	tables.Close()
	for _, t := range names {
		if err := conn.Exec(ctx, "OPTIMIZE TABLE "+db+"."+t+" FINAL"); err != nil {
			return fmt.Errorf("optimize %s: %w", t, err)
		}
	}
	rows, err := conn.Query(ctx, `SELECT table, sum(rows), sum(bytes_on_disk), sum(data_uncompressed_bytes)
FROM system.parts WHERE database = ? AND active GROUP BY table ORDER BY table`, db)
	if err != nil {
		return err
	}
	defer rows.Close()
	type usage struct {
		table                     string
		rows, bytes, uncompressed uint64
	}
	var all []usage
	var samples uint64
	for rows.Next() {
		var u usage
		if err := rows.Scan(&u.table, &u.rows, &u.bytes, &u.uncompressed); err != nil {
			return err
		}
		if u.table == "samples" {
			samples = u.rows
		}
		all = append(all, u)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if samples == 0 {
		return fmt.Errorf("database %s holds no samples", db)
	}
	var total, small uint64
	for _, u := range all {
		total += u.bytes
		if u.table != "samples" && float64(u.bytes)/float64(samples) < 0.05 {
			small += u.bytes // catalogs and heartbeats: folded into the total
			continue
		}
		row := Row{Measure: fmt.Sprintf("%s: `%s` (%s rows)", what, u.table, human(float64(u.rows))),
			Value: float64(u.bytes) / float64(samples), Unit: "bytes/sample",
			Versus: fmt.Sprintf("uncompressed: %.1f bytes/sample", float64(u.uncompressed)/float64(samples)),
			Ratio:  float64(u.bytes) / float64(max(u.uncompressed, 1))}
		if u.table == "samples" && withTarget {
			row.Target = "≤ 6"
			row.Met = atMost(row.Value, storageTarget)
		}
		sec.add(row)
	}
	if cols, err := columnSizes(ctx, conn, db, samples); err == nil {
		sec.note("%s, `samples` by column (compressed bytes/sample): %s.", what, cols)
	}
	sec.add(Row{Measure: what + ": all tables", Value: float64(total) / float64(samples), Unit: "bytes/sample",
		Versus: fmt.Sprintf("of which %s bytes in small tables", human(float64(small)))})
	return nil
}

// columnSizes lists the samples table's columns by compressed size, largest
// first, in bytes per row.
func columnSizes(ctx context.Context, conn driver.Conn, db string, rows uint64) (string, error) {
	res, err := conn.Query(ctx, `SELECT name, data_compressed_bytes FROM system.columns
WHERE database = ? AND table = 'samples' ORDER BY data_compressed_bytes DESC`, db)
	if err != nil {
		return "", err
	}
	defer res.Close()
	var parts []string
	for res.Next() {
		var name string
		var bytes uint64
		if err := res.Scan(&name, &bytes); err != nil {
			return "", err
		}
		parts = append(parts, fmt.Sprintf("%s %.2f", name, float64(bytes)/float64(rows)))
	}
	return strings.Join(parts, ", "), res.Err()
}
