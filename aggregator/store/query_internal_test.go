package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

func TestQueryAllAndEach(t *testing.T) {
	addr := chtest.Addr(t)
	conn := chtest.Conn(t, addr, chtest.Database(t, addr))
	ctx := context.Background()
	number := func(rows driver.Rows) (uint64, error) {
		var n uint64
		err := rows.Scan(&n)
		return n, err
	}
	got, err := queryAll(ctx, conn, "numbers", number, "SELECT number FROM system.numbers LIMIT ?", 3)
	if err != nil || !slices.Equal(got, []uint64{0, 1, 2}) {
		t.Fatalf("three numbers: %v %v", got, err)
	}
	if got, err := queryAll(ctx, conn, "numbers", number, "SELECT number FROM system.numbers LIMIT 0"); err != nil || got != nil {
		t.Fatalf("no rows: %v %v, want nil", got, err)
	}
	if got, err := queryAll(ctx, conn, "numbers", number, "SELECT number FROM no_such_table"); err == nil ||
		!strings.HasPrefix(err.Error(), "numbers: ") || got != nil {
		t.Fatalf("bad query: %v %v", got, err)
	}
	text := func(rows driver.Rows) (uint64, error) {
		var n uint64
		return n, rows.Scan(&n)
	}
	if _, err := queryAll(ctx, conn, "texts", text, "SELECT 'x'"); err == nil || !strings.HasPrefix(err.Error(), "texts: ") {
		t.Fatalf("scan of a string into a number: %v", err)
	}
	stop := errors.New("stop")
	seen := 0
	err = queryEach(ctx, conn, "each", func(driver.Rows) error {
		seen++
		return stop
	}, "SELECT number FROM system.numbers LIMIT 5")
	if !errors.Is(err, stop) || !strings.HasPrefix(err.Error(), "each: ") || seen != 1 {
		t.Fatalf("each stopped after %d rows: %v", seen, err)
	}
}
