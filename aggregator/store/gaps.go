package store

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// TableGaps holds spans of data agents know they lost (buffer full, a
// damaged buffer quarantined), so a hole in a chart is explained.
const TableGaps = "gaps"

func gapsDDL(caps Capabilities) string {
	lc := "String"
	if caps.LowCardinality {
		lc = "LowCardinality(String)"
	}
	return `CREATE TABLE IF NOT EXISTS gaps (
    site_id     ` + lc + `,
    seq         UInt64,
    idx         UInt32,
    buffer_id   String DEFAULT '',
    point_ids   Array(String),
    from_ts     DateTime('UTC'),
    to_ts       DateTime('UTC'),
    from_ns     Int64,
    to_ns       Int64,
    samples     UInt64,
    reason      ` + lc + `,
    recovery    ` + lc + ` DEFAULT '',
    recovered   UInt64 DEFAULT 0,
    unrecovered_point_ids Array(String),
    recorded_at DateTime('UTC') DEFAULT now()
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(from_ts)
ORDER BY (site_id, buffer_id, seq, idx)`
}

const insertGapsSQL = "INSERT INTO gaps (site_id, buffer_id, seq, idx, point_ids, from_ts, to_ts, from_ns, to_ns, samples, reason, " +
	"recovery, recovered, unrecovered_point_ids)"

func (s *Store) insertGaps(ctx context.Context, conn driver.Conn, caps Capabilities, batches []*Batch, n int) error {
	var (
		sites   = make([]string, 0, n)
		buffers = make([]string, 0, n)
		seqs    = make([]uint64, 0, n)
		idxs    = make([]uint32, 0, n)
		points  = make([][]string, 0, n)
		fromTs  = make([]time.Time, 0, n)
		toTs    = make([]time.Time, 0, n)
		fromNs  = make([]int64, 0, n)
		toNs    = make([]int64, 0, n)
		counts  = make([]uint64, 0, n)
		reasons = make([]string, 0, n)
		recov   = make([]string, 0, n)
		recN    = make([]uint64, 0, n)
		unrec   = make([][]string, 0, n)
	)
	for _, b := range batches {
		for i, g := range b.Gaps {
			sites = append(sites, b.SiteID)
			buffers = append(buffers, b.ledgerBufferID())
			seqs = append(seqs, b.Seq)
			idxs = append(idxs, uint32(i))
			points = append(points, append([]string{}, g.GetPointIds()...))
			fromTs = append(fromTs, clampDateTime(g.GetFromNs()))
			toTs = append(toTs, clampDateTime(g.GetToNs()))
			fromNs = append(fromNs, g.GetFromNs())
			toNs = append(toNs, g.GetToNs())
			counts = append(counts, g.GetSamples())
			reasons = append(reasons, g.GetReason())
			recov = append(recov, g.GetRecovery())
			recN = append(recN, g.GetRecovered())
			unrec = append(unrec, append([]string{}, g.GetUnrecoveredPointIds()...))
		}
	}
	batch, err := conn.PrepareBatch(ctx, insertGapsSQL)
	if err != nil {
		return fmt.Errorf("insert gaps: prepare: %w", err)
	}
	defer batch.Abort()
	for i, col := range []any{sites, buffers, seqs, idxs, points, fromTs, toTs, fromNs, toNs, counts, reasons, recov, recN, unrec} {
		if err := batch.Column(i).Append(col); err != nil {
			return permanent(fmt.Errorf("insert gaps: column %d: %w", i, err))
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert gaps (%d): %w", n, err)
	}
	return nil
}

// clampDateTime converts Unix ns to a time a DateTime column can hold.
func clampDateTime(ns int64) time.Time {
	t := time.Unix(0, ns).UTC()
	if t.Before(dateTimeMin) {
		return dateTimeMin
	}
	if t.After(dateTimeMax) {
		return dateTimeMax
	}
	return t
}

// migrateGapRecovery adds the columns that say what history backfill
// recovered to a gaps table made before them.
func (s *Store) migrateGapRecovery(ctx context.Context, conn driver.Conn, caps Capabilities) error {
	cols, err := tableColumns(ctx, conn, TableGaps)
	if err != nil || len(cols) == 0 {
		return err
	}
	lc := "String"
	if caps.LowCardinality {
		lc = "LowCardinality(String)"
	}
	adds := []struct{ name, def string }{
		{"recovery", lc + " DEFAULT '' AFTER reason"},
		{"recovered", "UInt64 DEFAULT 0 AFTER recovery"},
		{"unrecovered_point_ids", "Array(String) AFTER recovered"},
	}
	for _, a := range adds {
		if cols[a.name] {
			continue
		}
		if err := conn.Exec(ctx, "ALTER TABLE gaps ADD COLUMN "+a.name+" "+a.def); err != nil {
			return fmt.Errorf("migrate gaps: add %s: %w", a.name, err)
		}
		s.logger.Info("migrated gaps: added " + a.name)
	}
	return nil
}
