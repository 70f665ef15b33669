package chdbtest

import (
	"encoding/hex"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// literal renders v as a ClickHouse SQL literal. typ is the column's type
// when known ("" for query arguments): it picks how a time is written.
func literal(v any, typ string) (string, error) {
	if v == nil {
		return "NULL", nil
	}
	switch x := v.(type) {
	case string:
		return quote(x), nil
	case []byte:
		return quote(string(x)), nil // quote writes bytes that are not UTF-8 in hex
	case bool:
		if x {
			return "1", nil
		}
		return "0", nil
	case float64:
		return float(x), nil
	case float32:
		return float(float64(x)), nil
	case time.Time:
		return timeLiteral(x, typ), nil
	case clickhouse.GroupSet:
		// A tuple, as clickhouse-go writes one: (a, b, c).
		list, err := literal(x.Value, "")
		if err != nil {
			return "", err
		}
		return "(" + strings.TrimSuffix(strings.TrimPrefix(list, "["), "]") + ")", nil
	case []clickhouse.GroupSet:
		// Tuples side by side, for "IN (?)".
		parts := make([]string, len(x))
		for i, g := range x {
			s, err := literal(g, "")
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, ", "), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			return "NULL", nil
		}
		return literal(rv.Elem().Interface(), unwrap(typ, "Nullable"))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(rv.Uint(), 10), nil
	case reflect.String:
		return quote(rv.String()), nil
	case reflect.Slice, reflect.Array:
		elem := unwrap(typ, "Array")
		parts := make([]string, rv.Len())
		for i := range parts {
			s, err := literal(rv.Index(i).Interface(), elem)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	}
	return "", fmt.Errorf("chdbtest: cannot write a %T as SQL", v)
}

// quote writes s as a string literal. Text that is not UTF-8 (payloads)
// goes through unhex: the statement travels to chdb as JSON, which holds
// only UTF-8.
func quote(s string) string {
	if !utf8.ValidString(s) {
		return "unhex('" + hex.EncodeToString([]byte(s)) + "')"
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func float(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// timeLiteral writes t in UTC for its column: whole seconds for DateTime,
// the day for Date, the column's precision for DateTime64. A query
// argument (no type) is written as clickhouse-go binds one: a DateTime
// with whole seconds, a DateTime64(9) otherwise.
func timeLiteral(t time.Time, typ string) string {
	t = t.UTC()
	base := unwrap(unwrap(typ, "Nullable"), "LowCardinality")
	switch {
	case base == "":
		if t.Nanosecond() == 0 {
			return fmt.Sprintf("toDateTime('%s', 'UTC')", t.Format(time.DateTime))
		}
		return fmt.Sprintf("toDateTime64('%s', 9, 'UTC')", t.Format("2006-01-02 15:04:05.000000000"))
	case strings.HasPrefix(base, "DateTime64"):
		return "'" + t.Format("2006-01-02 15:04:05.000000000") + "'"
	case strings.HasPrefix(base, "Date32"), base == "Date":
		return "'" + t.Format(time.DateOnly) + "'"
	}
	return "'" + t.Format(time.DateTime) + "'"
}

// unwrap returns the argument of wrapper in typ ("Nullable(X)" → "X"), or
// typ itself when it is not wrapped so.
func unwrap(typ, wrapper string) string {
	if s, ok := strings.CutPrefix(typ, wrapper+"("); ok && strings.HasSuffix(s, ")") {
		return s[:len(s)-1]
	}
	return typ
}

// bind replaces each ? outside quotes in query with the next argument, as
// clickhouse-go's client-side binding does.
func bind(query string, args []any) (string, error) {
	if len(args) == 0 {
		return query, nil
	}
	var b strings.Builder
	var quoteCh byte
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quoteCh != 0:
			if c == '\\' && i+1 < len(query) {
				b.WriteByte(c)
				i++
				c = query[i]
			} else if c == quoteCh {
				quoteCh = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quoteCh = c
		case c == '?':
			if n >= len(args) {
				return "", fmt.Errorf("chdbtest: more ? than the %d arguments", len(args))
			}
			s, err := literal(args[n], "")
			if err != nil {
				return "", err
			}
			b.WriteString(s)
			n++
			continue
		}
		b.WriteByte(c)
	}
	if n != len(args) {
		return "", fmt.Errorf("chdbtest: %d arguments for %d ?", len(args), n)
	}
	return b.String(), nil
}
