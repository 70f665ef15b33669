package chdbtest_test

import (
	"context"
	"errors"
	"math"
	"strings"
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

// A folder without chdb is reported as missing (Open then skips, or fails
// under CI), not as a broken session.
func TestMissing(t *testing.T) {
	t.Setenv(chdbtest.DirEnv, t.TempDir())
	if _, err := chdbtest.Start(t.TempDir()); !errors.Is(err, chdbtest.ErrMissing) {
		t.Fatalf("start without chdb: %v, want ErrMissing", err)
	}
}

// A refused statement comes back as the error, naming it; the session
// goes on.
func TestRefusedStatement(t *testing.T) {
	c := chdbtest.Open(t)
	err := c.Exec(context.Background(), "SELECT * FROM no_such_table")
	var ce *chdbtest.Error
	if !errors.As(err, &ce) || !strings.Contains(ce.Message, "no_such_table") {
		t.Fatalf("refused statement: %v", err)
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Fatalf("session after a refused statement: %v", err)
	}
}
