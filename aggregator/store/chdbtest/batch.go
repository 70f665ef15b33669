package chdbtest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// batch collects an INSERT's rows column by column and writes them as one
// INSERT … VALUES on Send.
type batch struct {
	conn  *Conn
	table string
	names []string
	types []string
	cols  [][]any
	sent  bool
}

func (b *batch) Append(v ...any) error {
	if len(v) != len(b.cols) {
		return fmt.Errorf("chdbtest: %d values for %d columns of %s", len(v), len(b.cols), b.table)
	}
	for i, x := range v {
		b.cols[i] = append(b.cols[i], x)
	}
	return nil
}

func (b *batch) AppendStruct(any) error { return errors.New("chdbtest: AppendStruct is not supported") }

func (b *batch) Column(i int) driver.BatchColumn { return batchColumn{b, i} }

func (b *batch) Rows() int {
	if len(b.cols) == 0 {
		return 0
	}
	return len(b.cols[0])
}

// Send writes the rows; an empty batch writes nothing.
func (b *batch) Send() error {
	if b.sent {
		return errors.New("chdbtest: batch already sent")
	}
	b.sent = true
	n := b.Rows()
	for i, c := range b.cols {
		if len(c) != n {
			return fmt.Errorf("chdbtest: column %s has %d rows, column %s %d", b.names[i], len(c), b.names[0], n)
		}
	}
	if n == 0 {
		return nil
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "INSERT INTO %s (%s) VALUES ", b.table, strings.Join(b.names, ", "))
	for r := range n {
		if r > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for c := range b.cols {
			if c > 0 {
				sb.WriteString(", ")
			}
			s, err := literal(b.cols[c][r], b.types[c])
			if err != nil {
				return fmt.Errorf("chdbtest: %s.%s: %w", b.table, b.names[c], err)
			}
			sb.WriteString(s)
		}
		sb.WriteByte(')')
	}
	return b.conn.Exec(context.Background(), sb.String())
}

func (b *batch) Abort() error                { b.sent = true; return nil }
func (b *batch) Flush() error                { return nil }
func (b *batch) IsSent() bool                { return b.sent }
func (b *batch) Close() error                { return b.Abort() }
func (b *batch) Columns() []column.Interface { return nil }

// batchColumn appends a whole slice (or one value) to a batch's column.
type batchColumn struct {
	b *batch
	i int
}

func (c batchColumn) Append(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return fmt.Errorf("chdbtest: column %s: append a slice, not %T", c.b.names[c.i], v)
	}
	for j := range rv.Len() {
		c.b.cols[c.i] = append(c.b.cols[c.i], driverValue(rv.Index(j).Interface(), c.b.types[c.i]))
	}
	return nil
}

// driverValue is v as clickhouse-go reads it for a column of type typ: an
// int64 appended to a DateTime column is seconds, to a DateTime64 one
// milliseconds, whatever the column's precision.
func driverValue(v any, typ string) any {
	n, ok := v.(int64)
	if !ok {
		return v
	}
	base := unwrap(unwrap(typ, "Nullable"), "LowCardinality")
	switch {
	case strings.HasPrefix(base, "DateTime64"):
		return time.UnixMilli(n)
	case strings.HasPrefix(base, "DateTime"):
		return time.Unix(n, 0)
	}
	return v
}

func (c batchColumn) AppendRow(v any) error {
	c.b.cols[c.i] = append(c.b.cols[c.i], v)
	return nil
}
