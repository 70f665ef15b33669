package bench

import (
	"context"
	"strings"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chdbtest"
)

// The codec trials run on ClickHouse 26 over the store's samples table and
// note every candidate of every column.
func TestCodecTrials(t *testing.T) {
	ctx := context.Background()
	conn := chdbtest.Open(t)
	st := store.New(store.DefaultConfig(), nil)
	if err := st.Attach(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, `INSERT INTO samples (site_id, point_id, ts, ts_ns, server_ns, recv_ns, value, value_type, status, good, seq, backfill)
SELECT 'S1', concat('P', toString(number % 10)), fromUnixTimestamp64Nano(toInt64(1.7e18 + number * 1e8), 'UTC'), toInt64(1.7e18 + number * 1e8),
    toInt64(1.7e18 + number * 1e8), toInt64(1.7e18 + number * 1e8 + 3e6), round(50 + 40 * sin(number / 100), 3), 'number', 0, 1, intDiv(number, 2000), 0
FROM numbers(20000)`); err != nil {
		t.Fatal(err)
	}
	sec := &Section{}
	if err := codecTrials(ctx, conn, sec); err != nil {
		t.Fatal(err)
	}
	if len(sec.Notes) != len(codecCandidates) {
		t.Fatalf("%d notes, want one per column: %q", len(sec.Notes), sec.Notes)
	}
	for i, c := range codecCandidates {
		if !strings.Contains(sec.Notes[i], "`"+c.name+"`") || strings.Count(sec.Notes[i], ";") != len(c.codecs)-1 {
			t.Errorf("note for %s: %s", c.name, sec.Notes[i])
		}
	}
}
