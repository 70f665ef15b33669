package dashboards_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chdbtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/dashboards"
)

// Every panel and variable query, expanded as Grafana does, runs on
// ClickHouse 26 (chdb) over the same data as on 18.16 and gives the same
// rows.
func TestEveryPanelQueryAgreesOnClickHouse26(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cur := chdbtest.Open(t)
	now := time.Now().UTC().Truncate(time.Second)

	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	cfg := store.DefaultConfig()
	cfg.Addr, cfg.Database = addr, db
	oldStore := store.New(cfg, slog.New(slog.DiscardHandler))
	if err := oldStore.Open(ctx); err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { oldStore.Close() })
	old, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Auth: clickhouse.Auth{Database: db}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { old.Close() })
	seedAll(t, ctx, oldStore, old, now)

	curStore := store.New(store.DefaultConfig(), slog.New(slog.DiscardHandler))
	if err := curStore.Attach(ctx, cur); err != nil {
		t.Fatalf("migrate on chdb: %v", err)
	}
	seedAll(t, ctx, curStore, cur, now)

	ds, err := dashboards.Build(dashboards.Park{Name: parkA, Sites: []string{"ENT01", "ENT02"}},
		dashboards.Options{Lang: dashboards.Chinese, DatasourceUID: "lifeline-clickhouse"})
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, d := range ds {
		for _, rg := range ranges {
			e := expander{from: now.Add(-rg.span), to: now.Add(time.Minute), interval: rg.interval, vars: map[string][]string{}}
			for k, v := range d.Constants() {
				e.vars[k] = []string{v}
			}
			for _, q := range d.Queries() {
				sql, err := e.expand(q.SQL)
				if err != nil {
					t.Fatalf("%s (%s): %v", q.Name, q.File, err)
				}
				sql = pinNow(sql, now)
				_, want, err := run(ctx, old, sql)
				if err != nil {
					t.Fatalf("%s (%s) on 18.16: %v", q.Name, q.File, err)
				}
				cols, got, err := run(ctx, cur, sql)
				ran++
				switch {
				case err != nil:
					msg := err.Error()
					t.Errorf("%s/%s %s (%s) on ClickHouse 26: %s", d.UID, rg.span, q.Name, q.File, msg[:min(len(msg), 400)])
				case !slices.Equal(cols, q.Columns):
					t.Errorf("%s (%s) on ClickHouse 26: columns %v, file declares %v", q.Name, q.File, cols, q.Columns)
				case !sameRows(want, got):
					t.Errorf("%s/%s %s (%s) differs:\n18.16: %v\n26:    %v", d.UID, rg.span, q.Name, q.File, want, got)
				}
				if name, ok := strings.CutPrefix(q.Name, "variable "); ok {
					e.vars[name] = []string{preferred[name]}
				}
			}
		}
	}
	if ran == 0 {
		t.Fatal("no queries ran")
	}
}

// pinNow fixes now() to one instant: the two servers answer moments apart,
// and a second boundary crossed between them changed ages such as
// backlog_age_s by one.
func pinNow(sql string, now time.Time) string {
	return strings.ReplaceAll(sql, "now()", fmt.Sprintf("toDateTime(%d)", now.Unix()))
}

func sameRows(a, b [][]string) bool {
	return slices.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}
