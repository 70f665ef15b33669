package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

const storageTarget = 6.0 // bytes per sample

// storage reports what a steady point's liveness costs (see
// storageLiveness), then bytes on disk per sample of the plantsim data the
// agent run stored, for the samples table and every other table of the
// schema (the ledger, rollups), after merging.
func (r *Runner) storage(ctx context.Context, sec *Section) error {
	if err := r.storageLiveness(ctx, sec); err != nil {
		return err
	}
	if r.agentDB == "" {
		return errors.New("needs the agent section's data (run it with -only agent,storage)")
	}
	defer r.ch.dropDatabase(r.agentDB)
	conn, err := r.ch.open(r.agentDB)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := storagePerSample(ctx, conn, r.agentDB, sec, "plantsim data", storageTarget); err != nil {
		return err
	}
	if err := r.storageCurrent(ctx, sec, conn); err != nil {
		return fmt.Errorf("ClickHouse 26: %w", err)
	}
	if r.ch.server == nil {
		return nil // a server of someone else's: its compression is its own
	}
	return r.storageDefaultCompression(ctx, sec, conn)
}

// storageDefaultCompression copies the plantsim samples to a second server
// left at ClickHouse's default compression (LZ4) and compares their size
// with the run's server, configured as packaging/clickhouse/lifeline.xml.
func (r *Runner) storageDefaultCompression(ctx context.Context, sec *Section, conn driver.Conn) error {
	srv, err := chtest.StartServerWith(filepath.Join(r.dir, "clickhouse-lz4"), chtest.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = srv.Stop() }()
	cfg := store.DefaultConfig()
	cfg.Addr, cfg.Database = srv.Addr(), "default"
	st := store.New(cfg, nil)
	if err := st.Open(ctx); err != nil {
		return err
	}
	st.Close() // the store made the schema; the copy is raw SQL
	lz4, err := (&clickHouse{addr: srv.Addr()}).open("default")
	if err != nil {
		return err
	}
	defer lz4.Close()
	if err := lz4.Exec(ctx, fmt.Sprintf("INSERT INTO samples SELECT * FROM remote('%s', %s.samples)", r.ch.addr, r.agentDB)); err != nil {
		return fmt.Errorf("copy samples to the LZ4 server: %w", err)
	}
	size := func(c driver.Conn, db string) (rows, bytes uint64, err error) {
		if err := c.Exec(ctx, "OPTIMIZE TABLE "+db+".samples FINAL"); err != nil {
			return 0, 0, err
		}
		err = c.QueryRow(ctx, `SELECT sum(rows), sum(bytes_on_disk) FROM system.parts
WHERE database = ? AND table = 'samples' AND active`, db).Scan(&rows, &bytes)
		return rows, bytes, err
	}
	rows, zstdBytes, err := size(conn, r.agentDB)
	if err != nil {
		return err
	}
	lzRows, lzBytes, err := size(lz4, "default")
	if err != nil {
		return err
	}
	if lzRows != rows {
		return fmt.Errorf("copied %d rows to the LZ4 server, have %d", lzRows, rows)
	}
	sec.add(Row{Measure: "plantsim data: `samples` on a server left at ClickHouse's default LZ4", Value: float64(lzBytes) / float64(rows), Unit: "bytes/sample",
		Versus: "with packaging/clickhouse/lifeline.xml (ZSTD)", Ratio: float64(lzBytes) / float64(max(zstdBytes, 1))})
	if cols, err := columnSizes(ctx, lz4, "default", rows); err == nil {
		sec.note("The same rows on a second server with ClickHouse's default compression (LZ4), by column: %s.", cols)
	}
	sec.note("The run's ClickHouse is configured as packaging/clickhouse/lifeline.xml ships it: ZSTD for every part (ClickHouse %s). Servers before 19.1 have no per-column codecs, so the server-wide method is their only lever; on current servers the samples table's own codecs apply instead.", r.ch.version)
	return nil
}

// storagePerSample merges every table of db and adds a row per table of
// bytes on disk per row of samples; a bar above 0 is the target of the
// samples row, in bytes/sample.
func storagePerSample(ctx context.Context, conn driver.Conn, db string, sec *Section, what string, bar float64) error {
	if err := optimizeAll(ctx, conn, db); err != nil {
		return err
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
		if u.table == "samples" && bar > 0 {
			row.Target = fmt.Sprintf("≤ %g", bar)
			row.Met = atMost(row.Value, bar)
		}
		sec.add(row)
	}
	if cols, err := columnSizes(ctx, conn, db, samples); err == nil {
		sec.note("%s, `samples` by column (compressed bytes/sample): %s.", what, cols)
	}
	sec.add(Row{Measure: what + ": all tables", Value: float64(total) / float64(samples), Unit: "bytes/sample",
		Versus: fmt.Sprintf("of which %s bytes in small tables", human(float64(small)))})
	perRow := map[string]float64{}
	for _, u := range all {
		if u.rows > 0 {
			perRow[u.table] = float64(u.bytes) / float64(u.rows)
		}
	}
	if bar > 0 {
		// Plant data (held to a bar): a synthetic data set's mix of rates
		// says nothing of a 1 Hz point.
		pointYear(sec, what, perRow)
	}
	return nil
}

// optimizeAll merges every MergeTree table of db, so that sizes are those
// of settled parts.
func optimizeAll(ctx context.Context, conn driver.Conn, db string) error {
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

// Cost per point-year: a point sampled at 1 Hz for a year, and a plant of
// plantPoints such points, at the bytes per row measured.
const (
	plantPoints = 10_000
	yearSeconds = 365.25 * 24 * 3600
)

// pointYear adds the disk a point-year costs in the raw table and in each
// rollup (a minute rollup holds one row per point and minute, an hour one
// per hour, whatever the sampling rate), and a 10,000-point plant's year.
func pointYear(sec *Section, what string, perRow map[string]float64) {
	parts := []struct {
		table string
		rows  float64 // per point-year at 1 Hz
	}{{"samples", yearSeconds}, {"samples_1m", yearSeconds / 60}, {"samples_1h", yearSeconds / 3600}}
	var point float64
	for _, p := range parts {
		b, ok := perRow[p.table]
		if !ok {
			continue
		}
		point += b * p.rows
		sec.add(Row{Measure: fmt.Sprintf("%s: a point-year at 1 Hz in `%s` (%.3g rows of %.3g bytes)", what, p.table, p.rows, b),
			Value: b * p.rows / 1e6, Unit: "MB"})
	}
	sec.add(Row{Measure: fmt.Sprintf("%s: a %s-point plant at 1 Hz for a year, raw and rollups", what, human(plantPoints)),
		Value: point * plantPoints / 1e9, Unit: "GB"})
}
