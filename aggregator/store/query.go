package store

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// queryEach runs q and calls each on every row it returns. Every error,
// the query's, a row's or the stream's, is wrapped with what.
func queryEach(ctx context.Context, conn driver.Conn, what string, each func(driver.Rows) error, q string, args ...any) error {
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// queryAll runs q and returns its rows as scan reads them, nil for none;
// errors are wrapped with what.
func queryAll[T any](ctx context.Context, conn driver.Conn, what string, scan func(driver.Rows) (T, error), q string, args ...any) ([]T, error) {
	var out []T
	err := queryEach(ctx, conn, what, func(rows driver.Rows) error {
		v, err := scan(rows)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	}, q, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}
