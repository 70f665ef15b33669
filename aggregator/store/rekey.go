package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// migrateIdentity brings tables made before buffer identities existed up to
// date: samples gains buffer_id, and the ledger and gaps, whose ORDER BY
// must now lead with (site_id, buffer_id), are rebuilt with their rows
// (ClickHouse cannot change an ORDER BY in place). Old rows get buffer_id
// ”, the identity agents without one keep using. It runs before the
// CREATE statements, which then add the ledger's view back.
//
// Each step is safe to repeat: a migration cut short resumes from the
// renamed table on the next Migrate. Inserts must not run meanwhile (the
// aggregator migrates before it serves).
func (s *Store) migrateIdentity(ctx context.Context, conn driver.Conn, caps Capabilities) error {
	cols, err := tableColumns(ctx, conn, TableSamples)
	if err != nil {
		return err
	}
	if len(cols) > 0 && !cols["buffer_id"] {
		typ := "String"
		if caps.LowCardinality {
			typ = "LowCardinality(String)"
		}
		if err := conn.Exec(ctx, "ALTER TABLE samples ADD COLUMN buffer_id "+typ+" DEFAULT '' AFTER backfill"); err != nil {
			return fmt.Errorf("migrate samples: add buffer_id: %w", err)
		}
		s.logger.Info("migrated samples: added buffer_id")
	}
	lc := func(t string) string {
		if caps.LowCardinality {
			return "LowCardinality(" + t + ")"
		}
		return t
	}
	steps := []rekeyStep{
		{table: TableIngestBatches, view: ViewIngestBatches, create: ingestBatchesDDL(lc),
			cols: "site_id, buffer_id, seq, rows, inserts, day", from: "site_id, '', seq, rows, inserts, today()"},
		{table: TableGaps, create: gapsDDL(caps),
			cols: "site_id, buffer_id, seq, idx, point_ids, from_ts, to_ts, from_ns, to_ns, samples, reason, recorded_at",
			from: "site_id, '', seq, idx, point_ids, from_ts, to_ts, from_ns, to_ns, samples, reason, recorded_at"},
	}
	for _, st := range steps {
		if err := s.rekey(ctx, conn, st); err != nil {
			return fmt.Errorf("migrate %s: %w", st.table, err)
		}
	}
	return nil
}

// rekeyStep rebuilds one table under a new ORDER BY.
type rekeyStep struct {
	table, view string // view, if set, writes into table and is dropped first
	create      string // the new CREATE TABLE
	cols, from  string // INSERT INTO table (cols) SELECT from FROM the old table
}

func (s *Store) rekey(ctx context.Context, conn driver.Conn, st rekeyStep) error {
	old := st.table + "_before_buffer_id"
	cols, err := tableColumns(ctx, conn, st.table)
	if err != nil {
		return err
	}
	if len(cols) > 0 && !cols["buffer_id"] {
		if st.view != "" {
			if err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+st.view); err != nil {
				return fmt.Errorf("drop %s: %w", st.view, err)
			}
		}
		if err := conn.Exec(ctx, "RENAME TABLE "+st.table+" TO "+old); err != nil {
			return fmt.Errorf("rename to %s: %w", old, err)
		}
	}
	oldCols, err := tableColumns(ctx, conn, old)
	if err != nil || len(oldCols) == 0 {
		return err
	}
	// From here on the old rows are safe in old: a half-filled copy
	// from an interrupted run is made again.
	stmts := []string{
		"DROP TABLE IF EXISTS " + st.table,
		st.create,
		"INSERT INTO " + st.table + " (" + st.cols + ") SELECT " + st.from + " FROM " + old,
	}
	for _, stmt := range stmts {
		if err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", firstWords(stmt), err)
		}
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+st.table).Scan(&n); err != nil {
		return fmt.Errorf("count copied rows: %w", err)
	}
	if err := conn.Exec(ctx, "DROP TABLE "+old); err != nil {
		return fmt.Errorf("drop %s: %w", old, err)
	}
	s.logger.Info("migrated table to buffer identities", "table", st.table, "rows", n)
	return nil
}

// tableColumns returns the columns of table in the current database; none
// if it does not exist.
func tableColumns(ctx context.Context, conn driver.Conn, table string) (map[string]bool, error) {
	cols := map[string]bool{}
	err := queryEach(ctx, conn, "columns of "+table, func(rows driver.Rows) error {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		cols[name] = true
		return nil
	}, "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = ?", table)
	if err != nil {
		return nil, err
	}
	return cols, nil
}

func firstWords(stmt string) string {
	f := strings.Fields(stmt)
	return strings.Join(f[:min(len(f), 4)], " ")
}
