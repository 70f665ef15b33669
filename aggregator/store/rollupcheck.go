package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// RollupDrift is a rollup bucket whose sample count disagrees with the raw
// samples it summarises: rows stored twice reached the view twice, or a
// server crash wrote the samples part but not the view's.
type RollupDrift struct {
	Table   string // samples_1m or samples_1h
	SiteID  string
	PointID string
	Bucket  time.Time
	Rollup  uint64 // countMerge(samples) of the bucket
	Raw     uint64 // count() of samples FINAL in the bucket
}

// rollupBuckets pairs each rollup table with its bucket width and the
// expression that buckets a sample's ts.
var rollupBuckets = []struct {
	table  string
	width  time.Duration
	bucket string
}{
	{TableSamples1m, time.Minute, "toStartOfMinute(ts)"},
	{TableSamples1h, time.Hour, "toStartOfHour(ts)"},
}

// RollupDrift compares every rollup bucket in [from, to) with samples
// FINAL; siteID narrows it to one site when not empty. The range is widened
// to whole hours so no bucket is compared with a part of its rows.
//
// Buckets still receiving data (the last minutes, or a backlog being
// drained) may show drift that settles by itself: check periods whose data
// is in.
func (s *Store) RollupDrift(ctx context.Context, from, to time.Time, siteID string) ([]RollupDrift, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	from, to = from.UTC().Truncate(time.Hour), ceilHour(to.UTC())
	var out []RollupDrift
	for _, rb := range rollupBuckets {
		siteCond := ""
		args := []any{from.Unix(), to.Unix()}
		if siteID != "" {
			siteCond = " AND site_id = ?"
			args = append(args, siteID)
		}
		args = append(args, args...)
		// A bucket missing on one side reads as 0 there (join_use_nulls is
		// off by default on every version). Current servers want an alias
		// on each joined subquery.
		q := `SELECT site_id, point_id, bucket, rollup_n, raw_n FROM
(
    SELECT site_id, point_id, bucket, countMerge(samples) AS rollup_n
    FROM ` + rb.table + `
    WHERE bucket >= toDateTime(?) AND bucket < toDateTime(?)` + siteCond + `
    GROUP BY site_id, point_id, bucket
) AS r
ALL FULL OUTER JOIN
(
    SELECT site_id, point_id, ` + rb.bucket + ` AS bucket, count() AS raw_n
    FROM samples FINAL
    WHERE ts >= toDateTime(?) AND ts < toDateTime(?)` + siteCond + `
    GROUP BY site_id, point_id, bucket
) AS s USING site_id, point_id, bucket
WHERE rollup_n != raw_n
ORDER BY site_id, point_id, bucket`
		drift, err := queryAll(ctx, conn, "check "+rb.table, func(rows driver.Rows) (RollupDrift, error) {
			d := RollupDrift{Table: rb.table}
			err := rows.Scan(&d.SiteID, &d.PointID, &d.Bucket, &d.Rollup, &d.Raw)
			return d, err
		}, q, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, drift...)
	}
	return out, nil
}

func ceilHour(t time.Time) time.Time {
	if c := t.Truncate(time.Hour); !c.Equal(t) {
		return c.Add(time.Hour)
	}
	return t
}

// RepairRollups rebuilds the drifting buckets from samples FINAL: it
// deletes their rollup rows (a mutation, waited for) and inserts them again
// through the same SELECT the views use. Run RollupDrift again afterwards:
// a sample inserted into a bucket while it was being rebuilt can leave it
// drifting still.
func (s *Store) RepairRollups(ctx context.Context, drift []RollupDrift) error {
	conn, caps, err := s.connCaps()
	if err != nil {
		return err
	}
	for _, rb := range rollupBuckets {
		var keys []string
		var args []any
		for _, d := range drift {
			if d.Table != rb.table {
				continue
			}
			keys = append(keys, "(?, ?, toDateTime(?))")
			args = append(args, d.SiteID, d.PointID, d.Bucket.Unix())
		}
		if len(keys) == 0 {
			continue
		}
		in := "(" + strings.Join(keys, ", ") + ")"
		// On a cluster the delete is a mutation of the local tables; rows
		// inserted after it was made are not touched by it, on any shard.
		if err := conn.Exec(ctx, "ALTER TABLE "+s.alterTarget(rb.table)+" DELETE WHERE (site_id, point_id, bucket) IN "+in, args...); err != nil {
			return fmt.Errorf("repair %s: delete drifting buckets: %w", rb.table, err)
		}
		if err := s.waitMutations(ctx, s.partsTable(rb.table)); err != nil {
			return fmt.Errorf("repair %s: %w", rb.table, err)
		}
		source := "samples FINAL WHERE (site_id, point_id, " + rb.bucket + ") IN " + in
		if err := conn.Exec(ctx, "INSERT INTO "+rb.table+" "+rollupSelect(caps, rb.bucket, source), args...); err != nil {
			return fmt.Errorf("repair %s: rebuild from samples: %w", rb.table, err)
		}
		s.logger.Info("rollup buckets rebuilt from samples", "table", rb.table, "buckets", len(keys))
	}
	return nil
}

// waitMutations waits until no mutation of table is pending: ALTER … DELETE
// returns before the parts are rewritten, on every version.
func (s *Store) waitMutations(ctx context.Context, table string) error {
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	for {
		var pending uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND table = ? AND is_done = 0",
			table).Scan(&pending); err != nil {
			return fmt.Errorf("wait for mutations: %w", err)
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for mutations: %d pending: %w", pending, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
