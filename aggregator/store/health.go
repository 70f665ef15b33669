package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Ping asks ClickHouse whether it answers, within ctx.
func (s *Store) Ping(ctx context.Context) error {
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	if err := conn.Ping(ctx); err != nil {
		return fmt.Errorf("ping clickhouse %s: %w", s.cfg.Addr, err)
	}
	return nil
}

// SchemaBehind returns what this binary's schema has and the database
// lacks: each missing table or view by name, each missing column of a
// table as "table.column". It is empty once Migrate has run against the
// database; anything else means the migrations of this version are not
// (or no longer) applied, and inserts and queries would fail.
func (s *Store) SchemaBehind(ctx context.Context) ([]string, error) {
	conn, caps, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	err = queryEach(ctx, conn, "read schema", func(rows driver.Rows) error {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			return err
		}
		have[table], have[table+"."+column] = true, true
		return nil
	}, "SELECT table, name FROM system.columns WHERE database = currentDatabase()")
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, stmt := range ddl(caps) {
		name := objectName(stmt)
		if !have[name] {
			missing = append(missing, name)
			continue
		}
		for _, col := range ddlColumns(stmt) {
			if !have[name+"."+col] {
				missing = append(missing, name+"."+col)
			}
		}
	}
	slices.Sort(missing)
	return missing, nil
}

// ddlColumns returns the column names of a CREATE TABLE statement (nil for
// views): the first word of each line between its "(" and ") ENGINE".
func ddlColumns(stmt string) []string {
	if !strings.HasPrefix(stmt, "CREATE TABLE") {
		return nil
	}
	open := strings.Index(stmt, "(")
	end := strings.Index(stmt, "\n) ENGINE")
	if open < 0 || end < open {
		return nil
	}
	var names []string
	for _, line := range strings.Split(stmt[open+1:end], "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}
