package dashboards_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/dashboards"
)

// seedForward: park A's ENT01 reports to target jiangsu, 90 s behind with
// ten minutes missed an hour ago; park B's OTHER1 to target elsewhere.
func seedForward(t *testing.T, ctx context.Context, st *store.Store, now time.Time) {
	t.Helper()
	if err := st.SaveForwardCodes(ctx, []store.ForwardCode{
		{Target: "jiangsu", Kind: "enterprise", LocalID: "ENT01", Code: "913200"},
		{Target: "elsewhere", Kind: "enterprise", LocalID: "OTHER1", Code: "913300"},
	}); err != nil {
		t.Fatal(err)
	}
	live := now.Add(-90 * time.Second).UnixNano()
	oldest := now.Add(-time.Hour).UnixNano()
	for _, c := range []store.ForwardCursor{
		{Target: "jiangsu", Kind: "realtime", LiveNs: live, BacklogS: 600,
			Pending: strconv.FormatInt(oldest, 10) + "-" + strconv.FormatInt(oldest+600e9, 10)},
		{Target: "elsewhere", Kind: "realtime", LiveNs: live},
	} {
		if err := st.SaveForwardCursor(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
}

// The data-link dashboard shows each provincial target of the park with
// its lag and backlog from forward_cursors; another park's target is not
// shown.
func TestForwardLagPanel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, now, _ := seededAt(t, ctx, chtest.Addr(t))
	ds, err := dashboards.Build(dashboards.Park{Name: parkA}, dashboards.Options{DatasourceUID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range ds {
		for _, q := range d.Queries() {
			if q.File != "agents_forward.sql" {
				continue
			}
			found = true
			e := expander{from: now.Add(-time.Hour), to: now, interval: time.Minute, vars: map[string][]string{"park": {parkA}}}
			sql, err := e.expand(q.SQL)
			if err != nil {
				t.Fatal(err)
			}
			_, rows, err := run(ctx, conn, sql)
			if err != nil {
				t.Fatalf("%v\n%s", err, sql)
			}
			if len(rows) != 1 || rows[0][0] != "jiangsu" {
				t.Fatalf("rows %v, want the park's target only", rows)
			}
			lag, _ := strconv.Atoi(rows[0][1])
			age, _ := strconv.Atoi(rows[0][3])
			if lag < 85 || lag > 200 || rows[0][2] != "600" || age < 3500 || age > 3800 {
				t.Errorf("row %v: want lag ~90 s, backlog 600 s, oldest unsent ~3600 s", rows[0])
			}
		}
	}
	if !found {
		t.Fatal("no dashboard has the forward panel")
	}
}
