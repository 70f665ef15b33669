package dashboards_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/dashboards"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// queryOf returns park A's query from file on the dashboard of kind,
// expanded over the last six hours with vars.
func queryOf(t *testing.T, kind, file string, now time.Time, vars map[string][]string) string {
	t.Helper()
	ds, err := dashboards.Build(dashboards.Park{Name: parkA, Sites: []string{"ENT01"}}, dashboards.Options{DatasourceUID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	e := expander{from: now.Add(-6 * time.Hour), to: now.Add(time.Minute), interval: time.Minute,
		vars: map[string][]string{"park": {parkA}}}
	for k, v := range vars {
		e.vars[k] = v
	}
	for _, d := range ds {
		if d.Kind != kind {
			continue
		}
		for _, q := range d.Queries() {
			if q.File == file {
				sql, err := e.expand(q.SQL)
				if err != nil {
					t.Fatal(err)
				}
				return sql
			}
		}
	}
	t.Fatalf("no %s on the %s dashboard", file, kind)
	return ""
}

// The point dashboard plots numbers: its picker offers analog points, not
// on/off (switch) or text (status) ones, whose trend and latest value
// would always be empty.
func TestPointPickerOffersAnalogPointsOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, now, st := seededStore(t, ctx)
	if err := st.SaveCatalog(ctx, "ENT03", parkA, "1.0.0", []*lifelinev1.Point{
		{Id: "T301.LT", Name: "3#储罐液位", Kind: "level"},
		{Id: "T301.XV", Name: "3#储罐进料阀", Kind: "switch"},
		{Id: "R301.PHASE", Name: "反应阶段", Kind: "status"},
		{Id: "T301.AI", Name: "未分类", Kind: ""},
	}); err != nil {
		t.Fatal(err)
	}
	_, rows, err := run(ctx, conn, queryOf(t, dashboards.KindPoint, "var_point.sql", now, map[string][]string{"site": {"ENT03"}}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r[0])
	}
	if len(got) != 2 || got[0] != "T301.AI" || got[1] != "T301.LT" {
		t.Fatalf("point picker offers %v, want the analog points T301.AI and T301.LT", got)
	}
}

// After an agent disconnects, the data-link table still shows its sources
// as its last heartbeat reported them: the disconnect row carries none.
func TestDataLinkKeepsSourcesAfterDisconnect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, now, st := seededStore(t, ctx)
	// The row the aggregator stores when the agent's stream ends.
	if err := st.SaveAgentStatus(ctx, []store.AgentStatus{{SiteID: "ENT01", AgentVersion: "1.0.0", Time: now.Add(-10 * time.Second)}}); err != nil {
		t.Fatal(err)
	}
	_, rows, err := run(ctx, conn, queryOf(t, dashboards.KindAgents, "agents_status.sql", now, nil))
	if err != nil {
		t.Fatal(err)
	}
	// site_id, online, last_seen, agent_version, backlog_batches,
	// backlog_bytes, backlog_age_s, drain_rate, sources_connected,
	// sources_total, cert_days_left
	for _, r := range rows {
		if r[0] != "ENT01" {
			continue
		}
		if r[1] != "0" || r[8] != "2" || r[9] != "2" || r[10] == "NULL" {
			t.Fatalf("ENT01 after disconnecting: online %s, sources %s/%s, certificate %s days; want offline, 2/2 and the days",
				r[1], r[8], r[9], r[10])
		}
		return
	}
	t.Fatalf("no ENT01 row in %v", rows)
}

// seededStore is seeded with a store open on the same database.
func seededStore(t *testing.T, ctx context.Context) (driver.Conn, time.Time, *store.Store) {
	t.Helper()
	addr := chtest.Addr(t)
	conn, now, db := seededAt(t, ctx, addr)
	cfg := store.DefaultConfig()
	cfg.Addr, cfg.Database = addr, db
	st := store.New(cfg, slog.New(slog.DiscardHandler))
	if err := st.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return conn, now, st
}
