package chdbtest_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/chdbtest"
)

// A batch written through the Conn reads back the same, in every type the
// store writes: Enum8 from its number, DateTime64, NaN, arrays, NULL.
func TestBatchRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := chdbtest.Open(t)
	if err := c.Exec(ctx, `CREATE TABLE t (k LowCardinality(String), e Enum8('number' = 1, 'text' = 3),
ts DateTime64(3, 'UTC'), d DateTime('UTC'), v Float64, n Nullable(Float64), a Array(String)) ENGINE = MergeTree ORDER BY k`); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 8, 0, 0, 123e6, time.UTC)
	b, err := c.PrepareBatch(ctx, "INSERT INTO t (k, e, ts, d, v, n, a)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append("it's", int8(3), at, at, math.NaN(), (*float64)(nil), []string{"x", `y\z`}); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	var (
		k, e  string
		ts, d time.Time
		v     float64
		n     *float64
		a     []string
	)
	if err := c.QueryRow(ctx, "SELECT k, e, ts, d, v, n, a FROM t WHERE k = ? AND ts = ?", "it's", at).Scan(&k, &e, &ts, &d, &v, &n, &a); err != nil {
		t.Fatal(err)
	}
	if k != "it's" || e != "text" || !ts.Equal(at) || !d.Equal(at.Truncate(time.Second)) || !math.IsNaN(v) || n != nil || len(a) != 2 || a[1] != `y\z` {
		t.Fatalf("read back %q %q %v %v %v %v %q", k, e, ts, d, v, n, a)
	}
}
