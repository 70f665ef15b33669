package chdbtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Conn is a driver.Conn on a chdb Session. It implements Exec, Query,
// QueryRow, PrepareBatch, Ping, Stats and Close; the other methods of
// driver.Conn panic (the store does not use them).
type Conn struct {
	driver.Conn // nil: methods chdb cannot serve
	s           *Session
}

// NewConn returns a Conn running statements on s.
func NewConn(s *Session) *Conn { return &Conn{s: s} }

// Session returns the session the Conn runs on.
func (c *Conn) Session() *Session { return c.s }

// Exec runs a statement, binding args to its ? placeholders.
func (c *Conn) Exec(_ context.Context, query string, args ...any) error {
	q, err := bind(query, args)
	if err != nil {
		return err
	}
	_, err = c.s.Query(q, "TabSeparated")
	return err
}

// Query runs a SELECT and returns its rows.
func (c *Conn) Query(_ context.Context, query string, args ...any) (driver.Rows, error) {
	q, err := bind(query, args)
	if err != nil {
		return nil, err
	}
	out, err := c.s.Query(q, "JSONCompact")
	if err != nil {
		return nil, err
	}
	var res struct {
		Meta []struct{ Name, Type string } `json:"meta"`
		Data [][]json.RawMessage           `json:"data"`
	}
	if strings.TrimSpace(out) != "" {
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			return nil, fmt.Errorf("chdbtest: read result of %q: %w", q, err)
		}
	}
	r := &rows{data: res.Data, i: -1}
	for _, m := range res.Meta {
		r.cols = append(r.cols, columnType{name: m.Name, typ: m.Type})
	}
	return r, nil
}

// QueryRow runs a SELECT and returns its first row.
func (c *Conn) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	rs, err := c.Query(ctx, query, args...)
	if err != nil {
		return &row{err: err}
	}
	return &row{rows: rs.(*rows)}
}

var insertRE = regexp.MustCompile(`(?is)^\s*INSERT\s+INTO\s+([A-Za-z0-9_.]+)\s*\(([^)]*)\)\s*(VALUES)?\s*$`)

// PrepareBatch starts an INSERT that names its columns; Send writes it.
func (c *Conn) PrepareBatch(_ context.Context, query string, _ ...driver.PrepareBatchOption) (driver.Batch, error) {
	m := insertRE.FindStringSubmatch(query)
	if m == nil {
		return nil, fmt.Errorf("chdbtest: batch %q: want INSERT INTO t (columns)", query)
	}
	b := &batch{conn: c, table: m[1]}
	for _, col := range strings.Split(m[2], ",") {
		b.names = append(b.names, strings.TrimSpace(col))
	}
	types, err := c.columnTypes(b.table)
	if err != nil {
		return nil, err
	}
	for _, n := range b.names {
		t, ok := types[n]
		if !ok {
			return nil, fmt.Errorf("chdbtest: batch %q: %s has no column %s", query, b.table, n)
		}
		b.types = append(b.types, t)
	}
	b.cols = make([][]any, len(b.names))
	return b, nil
}

func (c *Conn) columnTypes(table string) (map[string]string, error) {
	rs, err := c.Query(context.Background(), "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = ?", table)
	if err != nil {
		return nil, err
	}
	types := map[string]string{}
	for rs.Next() {
		var n, t string
		if err := rs.Scan(&n, &t); err != nil {
			return nil, err
		}
		types[n] = t
	}
	if len(types) == 0 {
		return nil, fmt.Errorf("chdbtest: no table %s", table)
	}
	return types, nil
}

// Ping checks the session answers.
func (c *Conn) Ping(context.Context) error {
	_, err := c.s.Query("SELECT 1", "TabSeparated")
	return err
}

// Stats reports one connection.
func (c *Conn) Stats() driver.Stats { return driver.Stats{MaxOpenConns: 1, Open: 1} }

// Close closes the session.
func (c *Conn) Close() error { return c.s.Close() }

// ServerVersion is not known without a handshake.
func (c *Conn) ServerVersion() (*driver.ServerVersion, error) {
	return nil, errors.New("chdbtest: no server handshake in process")
}
