package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Retention says how many days each kind of data is kept; 0 keeps it
// forever.
type Retention struct {
	RawDays    int // samples; at least 30 (Order No. 40, art. 13)
	MinuteDays int // samples_1m
	HourDays   int // samples_1h
	// LedgerDays keeps ingest_batches rows (which batches are committed).
	// It must outlast the longest an agent may hold a batch it sent: a
	// batch whose ledger row is gone, re-sent after its ack was lost, is
	// stored again.
	LedgerDays int
}

// DefaultLedgerDays is the ledger's default retention: longer than a
// buffer plausibly holds a batch (a 1 GiB buffer at plant rates lasts days
// to weeks of outage).
const DefaultLedgerDays = 90

// DefaultRetention keeps raw data 30 days, minute rollups 400 days, the
// ledger 90 days and hourly rollups forever.
func DefaultRetention() Retention {
	return Retention{RawDays: 30, MinuteDays: 400, LedgerDays: DefaultLedgerDays}
}

// Validate refuses a raw retention below 30 days.
func (r Retention) Validate() error {
	var errs []error
	if r.RawDays != 0 && r.RawDays < 30 {
		errs = append(errs, fmt.Errorf("raw_days %d: recorded monitoring data must be kept at least 30 days (0 keeps it forever)", r.RawDays))
	}
	if r.MinuteDays < 0 || r.HourDays < 0 {
		errs = append(errs, fmt.Errorf("minute_days %d, hour_days %d: want 0 (forever) or more", r.MinuteDays, r.HourDays))
	}
	if r.LedgerDays != 0 && r.LedgerDays < 7 {
		errs = append(errs, fmt.Errorf("ledger_days %d: want 0 (forever) or at least 7, longer than an agent may hold a sent batch", r.LedgerDays))
	}
	return errors.Join(errs...)
}

// retentionTargets pairs each table with its days and time column.
func (r Retention) targets() []struct {
	table, column string
	days          int
} {
	return []struct {
		table, column string
		days          int
	}{
		{TableSamples, "ts", r.RawDays},
		{TableSamples1m, "bucket", r.MinuteDays},
		{TablePointLiveness, "minute", r.MinuteDays}, // online minutes, like the minute rollup
		{TableSamples1h, "bucket", r.HourDays},
		{TableIngestBatches, "day", r.LedgerDays},
	}
}

// retentionDDL returns the statements that apply r on a server with TTL.
func retentionDDL(r Retention) []string {
	var out []string
	for _, t := range r.targets() {
		if t.days > 0 {
			out = append(out, fmt.Sprintf("ALTER TABLE %s MODIFY TTL toDateTime(%s) + INTERVAL %d DAY", t.table, t.column, t.days))
		}
	}
	return out
}

// ApplyRetention enforces r. With TTL (19.6+) it sets each table's TTL; on
// older servers it drops monthly partitions whose every day is older than
// the retention, so data is kept at least as long as configured.
func (s *Store) ApplyRetention(ctx context.Context, r Retention) error {
	if err := r.Validate(); err != nil {
		return permanent(err)
	}
	conn, caps, err := s.connCaps()
	if err != nil {
		return err
	}
	if caps.TTL {
		for _, stmt := range retentionDDL(r) {
			if s.cfg.Cluster != "" {
				table, rest, _ := strings.Cut(strings.TrimPrefix(stmt, "ALTER TABLE "), " ")
				stmt = "ALTER TABLE " + s.alterTarget(table) + " " + rest
			}
			if err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("retention: %s: %w", stmt, err)
			}
		}
		return nil
	}
	return s.dropOldPartitions(ctx, r, time.Now())
}

func (s *Store) dropOldPartitions(ctx context.Context, r Retention, now time.Time) error {
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	for _, t := range r.targets() {
		if t.days <= 0 {
			continue
		}
		cutoff := now.UTC().AddDate(0, 0, -t.days)
		// A partition YYYYMM may go when the first day of the next month
		// is at or before the cutoff.
		rows, err := conn.Query(ctx, `SELECT DISTINCT partition FROM system.parts
WHERE database = currentDatabase() AND table = ? AND active`, s.partsTable(t.table))
		if err != nil {
			return fmt.Errorf("retention %s: list partitions: %w", t.table, err)
		}
		var drop []string
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				rows.Close()
				return fmt.Errorf("retention %s: %w", t.table, err)
			}
			month, err := time.Parse("200601", p)
			if err != nil {
				continue
			}
			if !month.AddDate(0, 1, 0).After(cutoff) {
				drop = append(drop, p)
			}
		}
		rows.Close()
		for _, p := range drop {
			if err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DROP PARTITION %s", s.alterTarget(t.table), p)); err != nil {
				return fmt.Errorf("retention %s: drop partition %s: %w", t.table, p, err)
			}
			s.logger.Info("retention: dropped partition", "table", t.table, "partition", p)
		}
	}
	return nil
}

// partsTable is the table whose parts hold table's rows on this server: on
// a cluster its local table. A shard's months are those of every shard
// (partitions are months, and every shard takes every day's samples).
func (s *Store) partsTable(table string) string {
	if s.cfg.Cluster != "" {
		return table + LocalSuffix
	}
	return table
}

// alterTarget is what an ALTER of table's data names: on a cluster its
// local tables on every host.
func (s *Store) alterTarget(table string) string {
	if s.cfg.Cluster != "" {
		return s.cfg.Database + "." + table + LocalSuffix + " ON CLUSTER " + s.cfg.Cluster
	}
	return table
}
