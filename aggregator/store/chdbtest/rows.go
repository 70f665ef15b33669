package chdbtest

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// rows is a result read whole from JSONCompact.
type rows struct {
	driver.Rows // nil: Totals, ScanStruct
	cols        []columnType
	data        [][]json.RawMessage
	i           int
	err         error
}

func (r *rows) Next() bool {
	if r.i+1 >= len(r.data) {
		r.i = len(r.data)
		return false
	}
	r.i++
	return true
}

func (r *rows) Scan(dest ...any) error {
	if r.i < 0 || r.i >= len(r.data) {
		return sql.ErrNoRows
	}
	if len(dest) != len(r.cols) {
		return fmt.Errorf("chdbtest: scan %d values into %d destinations", len(r.cols), len(dest))
	}
	for i, d := range dest {
		if err := scanValue(r.data[r.i][i], reflect.ValueOf(d), r.cols[i].typ); err != nil {
			return fmt.Errorf("chdbtest: column %s (%s): %w", r.cols[i].name, r.cols[i].typ, err)
		}
	}
	return nil
}

func (r *rows) ColumnTypes() []driver.ColumnType {
	out := make([]driver.ColumnType, len(r.cols))
	for i, c := range r.cols {
		out[i] = c
	}
	return out
}

func (r *rows) Columns() []string {
	out := make([]string, len(r.cols))
	for i, c := range r.cols {
		out[i] = c.name
	}
	return out
}

func (r *rows) Close() error  { return nil }
func (r *rows) Err() error    { return r.err }
func (r *rows) HasData() bool { return len(r.data) > 0 }

// row is QueryRow's answer.
type row struct {
	driver.Row // nil: ScanStruct
	rows       *rows
	err        error
}

func (r *row) Err() error { return r.err }

func (r *row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	if !r.rows.Next() {
		return sql.ErrNoRows
	}
	return r.rows.Scan(dest...)
}

// columnType maps a ClickHouse type to the Go type clickhouse-go scans it
// into.
type columnType struct{ name, typ string }

func (c columnType) Name() string             { return c.name }
func (c columnType) Nullable() bool           { return strings.HasPrefix(c.typ, "Nullable(") }
func (c columnType) DatabaseTypeName() string { return c.typ }
func (c columnType) ScanType() reflect.Type   { return scanType(c.typ) }

var scanTypes = map[string]reflect.Type{
	"UInt8": reflect.TypeFor[uint8](), "UInt16": reflect.TypeFor[uint16](),
	"UInt32": reflect.TypeFor[uint32](), "UInt64": reflect.TypeFor[uint64](),
	"Int8": reflect.TypeFor[int8](), "Int16": reflect.TypeFor[int16](),
	"Int32": reflect.TypeFor[int32](), "Int64": reflect.TypeFor[int64](),
	"Float32": reflect.TypeFor[float32](), "Float64": reflect.TypeFor[float64](),
	"Bool": reflect.TypeFor[bool](), "String": reflect.TypeFor[string](),
	"Date": reflect.TypeFor[time.Time](), "Date32": reflect.TypeFor[time.Time](),
}

func scanType(typ string) reflect.Type {
	typ = unwrap(typ, "LowCardinality")
	switch {
	case strings.HasPrefix(typ, "Nullable("):
		return reflect.PointerTo(scanType(unwrap(typ, "Nullable")))
	case strings.HasPrefix(typ, "Array("):
		return reflect.SliceOf(scanType(unwrap(typ, "Array")))
	case strings.HasPrefix(typ, "DateTime"):
		return reflect.TypeFor[time.Time]()
	case strings.HasPrefix(typ, "Enum"), strings.HasPrefix(typ, "FixedString"), typ == "UUID":
		return reflect.TypeFor[string]()
	case strings.HasPrefix(typ, "Decimal"):
		return reflect.TypeFor[float64]()
	}
	if t, ok := scanTypes[typ]; ok {
		return t
	}
	return reflect.TypeFor[any]()
}

// scanValue stores the JSON value raw of a column of type typ into the
// pointer dest.
func scanValue(raw json.RawMessage, dest reflect.Value, typ string) error {
	if dest.Kind() != reflect.Pointer || dest.IsNil() {
		return fmt.Errorf("destination %s is not a pointer", dest.Type())
	}
	typ = unwrap(typ, "LowCardinality")
	v := dest.Elem()
	null := bytes.Equal(raw, []byte("null"))
	if v.Kind() == reflect.Pointer {
		if null {
			v.SetZero()
			return nil
		}
		p := reflect.New(v.Type().Elem())
		if err := scanValue(raw, p, unwrap(typ, "Nullable")); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}
	typ = unwrap(typ, "Nullable")
	if null {
		v.SetZero()
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			t, err := parseTime(raw)
			if err != nil {
				return err
			}
			v.Set(reflect.ValueOf(t))
			return nil
		}
	case reflect.Float32, reflect.Float64:
		var s string
		if json.Unmarshal(raw, &s) == nil {
			f, err := parseFloat(s)
			if err != nil {
				return err
			}
			v.SetFloat(f)
			return nil
		}
	case reflect.Bool:
		var n float64
		if json.Unmarshal(raw, &n) == nil {
			v.SetBool(n != 0)
			return nil
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.Uint8 {
			var items []json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				return err
			}
			out := reflect.MakeSlice(v.Type(), len(items), len(items))
			for i, it := range items {
				if err := scanValue(it, out.Index(i).Addr(), unwrap(typ, "Array")); err != nil {
					return err
				}
			}
			v.Set(out)
			return nil
		}
	case reflect.Interface:
		t := scanType(typ)
		if t.Kind() != reflect.Interface {
			p := reflect.New(t)
			if err := scanValue(raw, p, typ); err != nil {
				return err
			}
			v.Set(p.Elem())
			return nil
		}
	}
	return json.Unmarshal(raw, dest.Interface())
}

func parseFloat(s string) (float64, error) {
	switch s {
	case "nan", "-nan":
		return math.NaN(), nil
	case "inf", "+inf":
		return math.Inf(1), nil
	case "-inf":
		return math.Inf(-1), nil
	}
	var f float64
	_, err := fmt.Sscan(s, &f)
	return f, err
}

// parseTime reads a Date, DateTime or DateTime64 written in UTC (the
// session's time zone and that of every Lifeline column).
func parseTime(raw json.RawMessage) (time.Time, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, err
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q", s)
}
