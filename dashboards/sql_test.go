package dashboards_test

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/dashboards"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

func TestMain(m *testing.M) { chtest.Main(m) }

const (
	parkA = "江北化工园区"
	parkB = "OtherPark"
)

// preferred values for the drop-downs: the seeded site, hazard source and
// point that have data of every kind. Each must be among the values the
// variable's own query returns.
var preferred = map[string]string{"site": "ENT01", "hazard": "HZ-01", "point": "T101.LT"}

// ranges are the dashboard time ranges every query runs with, each with the
// interval Grafana would choose for about 1000 points: the point trend
// reads raw samples, minute and hour rollups across them.
var ranges = []struct{ span, interval time.Duration }{
	{6 * time.Hour, 20 * time.Second},
	{3 * 24 * time.Hour, 5 * time.Minute},
	{60 * 24 * time.Hour, 90 * time.Minute},
}

func TestEveryPanelQueryRunsOnClickHouse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, now := seeded(t, ctx)

	for _, lang := range []dashboards.Lang{dashboards.Chinese, dashboards.English} {
		ds, err := dashboards.Build(dashboards.Park{Name: parkA, Sites: []string{"ENT01", "ENT02"}},
			dashboards.Options{Lang: lang, DatasourceUID: "lifeline-clickhouse"})
		if err != nil {
			t.Fatal(err)
		}
		if lang == dashboards.English {
			continue // the queries are the same; the Chinese run executes them
		}
		for _, d := range ds {
			for _, rg := range ranges {
				t.Run(d.UID+"/"+rg.span.String(), func(t *testing.T) {
					e := expander{from: now.Add(-rg.span), to: now.Add(time.Minute), interval: rg.interval,
						vars: map[string][]string{}}
					for k, v := range d.Constants() {
						e.vars[k] = []string{v}
					}
					for _, q := range d.Queries() {
						sql, err := e.expand(q.SQL)
						if err != nil {
							t.Errorf("%s (%s): %v", q.Name, q.File, err)
							continue
						}
						cols, rows, err := run(ctx, conn, sql)
						if err != nil {
							t.Errorf("%s (%s): %v\n%s", q.Name, q.File, err, sql)
							continue
						}
						if !slices.Equal(cols, q.Columns) {
							t.Errorf("%s (%s): columns %v, file declares %v", q.Name, q.File, cols, q.Columns)
						}
						if len(rows) == 0 {
							t.Errorf("%s (%s): no rows on the seeded data", q.Name, q.File)
							continue
						}
						if name, ok := strings.CutPrefix(q.Name, "variable "); ok {
							want := preferred[name]
							var vals []string
							for _, r := range rows {
								vals = append(vals, r[0])
							}
							if !slices.Contains(vals, want) {
								t.Fatalf("variable %s offers %v, want %s among them", name, vals, want)
							}
							e.vars[name] = []string{want}
						}
					}
				})
			}
		}
	}
}

// A park's dashboards show only that park's enterprises.
func TestParkSeesOnlyItsEnterprises(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, now := seeded(t, ctx)
	for park, want := range map[string][]string{parkA: {"ENT01", "ENT02"}, parkB: {"OTHER1"}} {
		ds, err := dashboards.Build(dashboards.Park{Name: park}, dashboards.Options{DatasourceUID: "x"})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.Kind != dashboards.KindOverview {
				continue
			}
			e := expander{from: now.Add(-6 * time.Hour), to: now.Add(time.Minute), interval: time.Minute,
				vars: map[string][]string{"park": {park}}}
			for _, q := range d.Queries() {
				if q.File != "overview_sites.sql" {
					continue
				}
				sql, err := e.expand(q.SQL)
				if err != nil {
					t.Fatal(err)
				}
				_, rows, err := run(ctx, conn, sql)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, r := range rows {
					got = append(got, r[0])
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("park %s overview lists %v, want %v", park, got, want)
				}
			}
		}
	}
}

// The alarm KPIs count what was seeded, and a site of another park named in
// the drop-down (e.g. through the URL) still shows nothing of it.
func TestAlarmKPIsAndIsolation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, now := seeded(t, ctx)
	ds, err := dashboards.Build(dashboards.Park{Name: parkA}, dashboards.Options{DatasourceUID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	e := expander{from: now.Add(-6 * time.Hour), to: now.Add(time.Minute), interval: time.Minute,
		vars: map[string][]string{"park": {parkA}, "site": {"ENT01", "ENT02", "OTHER1"}, "ack_overdue_min": {"15"}}}
	got := map[string][][]string{}
	for _, d := range ds {
		if d.Kind != dashboards.KindAlarms {
			continue
		}
		for _, q := range d.Queries() {
			if !strings.HasPrefix(q.Name, "panel ") {
				continue
			}
			sql, err := e.expand(q.SQL)
			if err != nil {
				t.Fatal(err)
			}
			_, rows, err := run(ctx, conn, sql)
			if err != nil {
				t.Fatalf("%s: %v", q.File, err)
			}
			got[q.File] = rows
		}
	}
	// alarms, avg per 10 min, max per 10 min, flood share, chattering, stale
	kpi := got["alarms_kpi.sql"]
	if len(kpi) != 1 || kpi[0][0] != "6" || kpi[0][2] != "4" || kpi[0][4] != "1" || kpi[0][5] != "1" {
		t.Errorf("KPIs: %v, want 6 alarms, peak 4 per 10 min, 1 chattering, 1 stale", kpi)
	}
	for file, rows := range got {
		for _, r := range rows {
			if slices.Contains(r, "OTHER1") || slices.Contains(r, "X1") {
				t.Errorf("%s shows park B's alarm: %v", file, r)
			}
		}
	}
	// alarms, acknowledged, unacknowledged, overdue, shelved, mean and p90 time to acknowledge
	if ack := got["alarms_ack_kpi.sql"]; len(ack) != 1 || strings.Join(ack[0], " ") != "6 1 5 3 1 120 120" {
		t.Errorf("acknowledgement KPIs: %v, want 6 alarms, 1 acknowledged, 5 not, 3 overdue, 1 shelved, 120 s", ack)
	}
	states := map[string]string{}
	for _, r := range got["alarms_ack.sql"] { // point, condition, ack_state, acked_by
		states[r[2]+" "+r[3]] = r[6] + " " + r[7]
	}
	for k, want := range map[string]string{"T101.TT H": "closed zhang", "GT101 S1": "", "T101.LT HH": "unacknowledged ",
		"T101.PT bad_quality": "overdue "} {
		if k == "GT101 S1" {
			continue // four raises: one shelved, three overdue
		}
		if states[k] != want {
			t.Errorf("alarms_ack.sql %s: %q, want %q (all: %v)", k, states[k], want, got["alarms_ack.sql"])
		}
	}
	var gas []string
	for _, r := range got["alarms_ack.sql"] {
		if r[2] == "GT101" {
			gas = append(gas, r[6])
		}
	}
	if slices.Sort(gas); strings.Join(gas, ",") != "overdue,overdue,overdue,shelved" {
		t.Errorf("gas raises' acknowledgement: %v", gas)
	}
	if n := len(got["alarms_active.sql"]); n != 2 { // the level HH and the stale bad-quality alarm
		t.Errorf("%d active alarms, want 2: %v", n, got["alarms_active.sql"])
	}
}

// run executes sql and returns its column names and rows as text.
func run(ctx context.Context, conn driver.Conn, sql string) ([]string, [][]string, error) {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(cols))
		for i, ct := range rows.ColumnTypes() {
			vals[i] = newScanTarget(ct.ScanType())
		}
		if err := rows.Scan(vals...); err != nil {
			return nil, nil, err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = text(v)
		}
		out = append(out, row)
	}
	return cols, out, rows.Err()
}

// seeded opens a fresh database with the Lifeline schema and fills it with
// two parks: park A with ENT01 (online, every kind of point, a gap, values
// beyond limits, bad quality) and ENT02 (offline with a backlog), park B
// with OTHER1.
func seeded(t *testing.T, ctx context.Context) (driver.Conn, time.Time) {
	t.Helper()
	addr := chtest.Addr(t)
	conn, now, _ := seededAt(t, ctx, addr)
	return conn, now
}

// seededAt is seeded on the server at addr; it also returns the database.
func seededAt(t *testing.T, ctx context.Context, addr string) (driver.Conn, time.Time, string) {
	t.Helper()
	db := chtest.Database(t, addr)
	cfg := store.DefaultConfig()
	cfg.Addr, cfg.Database = addr, db
	st := store.New(cfg, slog.New(slog.DiscardHandler))
	if err := st.Open(ctx); err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Auth: clickhouse.Auth{Database: db}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	now := time.Now().UTC().Truncate(time.Second)
	seedAll(t, ctx, st, conn, now)
	return conn, now, db
}

// seedAll writes the data of seeded through st (the catalogs) and conn.
func seedAll(t *testing.T, ctx context.Context, st *store.Store, conn driver.Conn, now time.Time) {
	t.Helper()
	seedCatalogs(t, ctx, st)
	seedSamples(t, ctx, conn, now)
	seedAgents(t, ctx, conn, now)
	seedGaps(t, ctx, conn, now)
	seedAlarms(t, ctx, conn, now)
	seedConditionEvents(t, ctx, st, now)
	seedForward(t, ctx, st, now)
}

// seedCatalogs registers the points of ENT01, ENT02 and OTHER1.
func seedCatalogs(t *testing.T, ctx context.Context, st *store.Store) {
	t.Helper()
	f := func(v float64) *float64 { return &v }
	hz := &lifelinev1.HazardSource{Code: "HZ-01", Name: "罐区一", Level: 2}
	pts := []*lifelinev1.Point{
		{Id: "T101.LT", Name: "1#储罐液位", Unit: "m", Kind: "level", RangeLow: f(0), RangeHigh: f(10),
			Limits: &lifelinev1.Limits{LowLow: f(0.5), Low: f(1), High: f(8), HighHigh: f(9)}, HazardSource: hz, Equipment: "T101"},
		{Id: "T101.TT", Name: "1#储罐温度", Unit: "℃", Kind: "temperature",
			Limits: &lifelinev1.Limits{High: f(40), HighHigh: f(50)}, HazardSource: hz, Equipment: "T101"},
		{Id: "T101.PT", Name: "1#储罐压力", Unit: "kPa", Kind: "pressure",
			Limits: &lifelinev1.Limits{High: f(20)}, HazardSource: hz, Equipment: "T101"},
		{Id: "GT101", Name: "罐区可燃气体", Unit: "%LEL", Kind: "gas_combustible",
			Limits: &lifelinev1.Limits{Stage1: f(25), Stage2: f(50)}, HazardSource: hz},
		{Id: "P201.FT", Name: "出料流量", Unit: "m3/h", Kind: "flow"},
	}
	if err := st.SaveCatalog(ctx, "ENT01", parkA, "1.0.0", pts); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveCatalog(ctx, "ENT02", parkA, "0.9.0", []*lifelinev1.Point{
		{Id: "R1.TT", Name: "反应釜温度", Unit: "℃", Kind: "temperature",
			HazardSource: &lifelinev1.HazardSource{Code: "HZ-07", Name: "氯化装置", Level: 1}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveCatalog(ctx, "OTHER1", parkB, "1.0.0", []*lifelinev1.Point{{Id: "X1", Kind: "level"}}); err != nil {
		t.Fatal(err)
	}
}

func seedSamples(t *testing.T, ctx context.Context, conn driver.Conn, now time.Time) {
	t.Helper()
	// Two hours of samples every 30 s; the level ends above HH, the gas
	// detector above stage 1, and every tenth temperature sample is bad.
	b, err := conn.PrepareBatch(ctx, "INSERT INTO samples (site_id, point_id, ts, ts_ns, server_ns, recv_ns, value, "+
		"value_text, value_type, status, good, seq, backfill)")
	if err != nil {
		t.Fatal(err)
	}
	add := func(site, point string, ts time.Time, v float64, good bool) {
		var g uint8
		var status uint32 = 0x80000000
		if good {
			g, status = 1, 0
		}
		if err := b.Append(site, point, ts, ts.UnixNano(), ts.UnixNano(), ts.UnixNano(), v, "", "number", status, g, uint64(1), uint8(0)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 240; i++ {
		ts := now.Add(-2 * time.Hour).Add(time.Duration(i) * 30 * time.Second)
		frac := float64(i) / 239
		add("ENT01", "T101.LT", ts, 5+4.5*frac, true)
		add("ENT01", "T101.TT", ts, 25+frac, i%10 != 0)
		add("ENT01", "T101.PT", ts, 12, true)
		add("ENT01", "GT101", ts, 30*frac, true)
		add("ENT01", "P201.FT", ts, 40, true)
		add("ENT02", "R1.TT", ts, 80, true)
		add("OTHER1", "X1", ts, 1, true)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
}

// seedAgents writes ENT01's heartbeats (its backlog draining, one point
// frozen) and ENT02's last one, two hours old.
func seedAgents(t *testing.T, ctx context.Context, conn driver.Conn, now time.Time) {
	t.Helper()
	ab, err := conn.PrepareBatch(ctx, "INSERT INTO agents (site_id, time, time_ns, connected, agent_version, "+
		"backlog_batches, backlog_bytes, oldest_ns, drain_rate, samples_read, samples_acked, sources_total, sources_connected, "+
		"heartbeat, frozen_points, cert_not_after)")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		ts := now.Add(-time.Hour).Add(time.Duration(i) * 5 * time.Minute)
		backlog := uint64(120 - 10*i)
		if err := ab.Append("ENT01", ts, ts.UnixNano(), uint8(1), "1.0.0", backlog, backlog*4096,
			now.Add(-3*time.Hour).UnixNano(), 5000.0, uint64(1000*i), uint64(900*i), uint16(2), uint16(2),
			uint8(1), []string{}, now.Add(200*24*time.Hour).UTC()); err != nil {
			t.Fatal(err)
		}
	}
	old := now.Add(-2 * time.Hour)
	if err := ab.Append("ENT02", old, old.UnixNano(), uint8(0), "0.9.0", uint64(500), uint64(1<<20),
		now.Add(-4*time.Hour).UnixNano(), 0.0, uint64(10), uint64(5), uint16(1), uint16(0),
		uint8(0), []string{}, time.Unix(0, 0).UTC()); err != nil {
		t.Fatal(err)
	}
	last := now.Add(-30 * time.Second)
	if err := ab.Append("ENT01", last, last.UnixNano(), uint8(1), "1.0.0", uint64(0), uint64(0),
		int64(0), 0.0, uint64(13000), uint64(13000), uint16(2), uint16(2),
		uint8(1), []string{"T101.PT"}, now.Add(200*24*time.Hour).UTC()); err != nil {
		t.Fatal(err)
	}
	if err := ab.Send(); err != nil {
		t.Fatal(err)
	}
}

func seedGaps(t *testing.T, ctx context.Context, conn driver.Conn, now time.Time) {
	t.Helper()
	gb, err := conn.PrepareBatch(ctx, "INSERT INTO gaps (site_id, seq, idx, point_ids, from_ts, to_ts, from_ns, to_ns, samples, reason)")
	if err != nil {
		t.Fatal(err)
	}
	gf, gt := now.Add(-90*time.Minute), now.Add(-80*time.Minute)
	if err := gb.Append("ENT01", uint64(7), uint32(0), []string{"T101.LT", "T101.TT"}, gf, gt, gf.UnixNano(), gt.UnixNano(),
		uint64(40), "buffer_full"); err != nil {
		t.Fatal(err)
	}
	if err := gb.Send(); err != nil {
		t.Fatal(err)
	}
}

func seedAlarms(t *testing.T, ctx context.Context, conn driver.Conn, now time.Time) {
	t.Helper()
	// Alarms of ENT01: the level HH still active, a chattering gas
	// detector, a temperature H raised and cleared, one stale alarm; and
	// one of the other park, which park A must never see.
	eb, err := conn.PrepareBatch(ctx, "INSERT INTO alarm_events (site_id, point_id, condition, priority, state, "+
		"raised_at, raised_ns, cleared_at, cleared_ns, duration_s, value, limit_value, peak_value, hazard_code, version)")
	if err != nil {
		t.Fatal(err)
	}
	alarm := func(site, point, cond string, prio uint8, raised time.Time, cleared time.Duration, v, limit float64) {
		state, version, clearedAt := "active", uint8(1), time.Unix(0, 0).UTC()
		if cleared > 0 {
			state, version, clearedAt = "cleared", 2, raised.Add(cleared)
		}
		if err := eb.Append(site, point, cond, prio, state, raised, raised.UnixNano(), clearedAt, clearedAt.UnixNano(),
			cleared.Seconds(), v, limit, v, "HZ-01", version); err != nil {
			t.Fatal(err)
		}
	}
	alarm("ENT01", "T101.LT", "HH", 1, now.Add(-10*time.Minute), 0, 9.1, 9)
	for i := range 4 {
		alarm("ENT01", "GT101", "S1", 2, now.Truncate(time.Minute).Add(-30*time.Minute).Add(time.Duration(i)*10*time.Second), 5*time.Second, 26, 25)
	}
	alarm("ENT01", "T101.TT", "H", 3, now.Add(-100*time.Minute), 20*time.Minute, 41, 40)
	alarm("ENT01", "T101.PT", "bad_quality", 4, now.Add(-30*time.Hour), 0, 0, 0)
	alarm("OTHER1", "X1", "HH", 1, now.Add(-5*time.Minute), 0, 9, 8)
	if err := eb.Send(); err != nil {
		t.Fatal(err)
	}

	// What operators did: the temperature H acknowledged after 2 minutes
	// and closed, the first gas raise shelved for an hour; park B's alarm
	// acknowledged by its own operator. The level HH (10 minutes old)
	// waits, the stale bad-quality alarm is overdue.
	ab, err := conn.PrepareBatch(ctx, "INSERT INTO alarm_actions (site_id, point_id, condition, raised_ns, action, "+
		"at_ns, user, park, cause, measures, reason, until_ns, remote_addr, action_id)")
	if err != nil {
		t.Fatal(err)
	}
	action := func(site, point, cond string, raised time.Time, act string, after time.Duration, user, park, cause, measures, reason string, until time.Time) {
		var untilNs int64
		if !until.IsZero() {
			untilNs = until.UnixNano()
		}
		if err := ab.Append(site, point, cond, raised.UnixNano(), act, raised.Add(after).UnixNano(), user, park,
			cause, measures, reason, untilNs, "127.0.0.1", act+site+point); err != nil {
			t.Fatal(err)
		}
	}
	h := now.Add(-100 * time.Minute)
	action("ENT01", "T101.TT", "H", h, "ack", 2*time.Minute, "zhang", parkA, "进料温度高", "降低进料速度", "", time.Time{})
	action("ENT01", "T101.TT", "H", h, "close", 30*time.Minute, "zhang", parkA, "", "", "", time.Time{})
	action("ENT01", "GT101", "S1", now.Truncate(time.Minute).Add(-30*time.Minute), "shelve", time.Minute, "li", parkA, "", "", "标定", now.Add(time.Hour))
	action("OTHER1", "X1", "HH", now.Add(-5*time.Minute), "ack", time.Minute, "wang", parkB, "X", "Y", "", time.Time{})
	if err := ab.Send(); err != nil {
		t.Fatal(err)
	}
}

func newScanTarget(t reflect.Type) any { return reflect.New(t).Interface() }

// text renders a scanned value, dereferencing pointers (NULL is "NULL").
func text(v any) string {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "NULL"
		}
		rv = rv.Elem()
	}
	return fmt.Sprint(rv.Interface())
}

// Rows stored twice (an INSERT repeated before ReplacingMergeTree merged
// them) change no panel that reads raw samples: each reads samples FINAL.
func TestPanelsCountEachSampleOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, now := seeded(t, ctx)
	if err := conn.Exec(ctx, "SYSTEM STOP MERGES samples"); err != nil {
		t.Fatal(err)
	}
	before := panelResults(t, ctx, conn, now)
	if err := conn.Exec(ctx, "INSERT INTO samples SELECT * FROM samples"); err != nil {
		t.Fatal(err)
	}
	var rows, distinct uint64
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(site_id, point_id, ts_ns) FROM samples").Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != 2*distinct {
		t.Fatalf("%d rows of %d distinct: the duplicates did not stay apart", rows, distinct)
	}
	after := panelResults(t, ctx, conn, now)
	compared := 0
	for key, b := range before {
		if b.rollups || b.clock {
			continue // rollups count an INSERT twice (`rollups repair` rebuilds them); ages move with the clock
		}
		compared++
		if !reflect.DeepEqual(b.rows, after[key].rows) {
			t.Errorf("%s changed when rows were stored twice:\nbefore %v\nafter  %v", key, b.rows, after[key].rows)
		}
	}
	if compared < 10 {
		t.Fatalf("compared %d raw-sample queries, want at least 10", compared)
	}
}

type panelResult struct {
	rows    [][]string
	rollups bool // the query reads a rollup table
	clock   bool // the query reads the server's clock
}

// panelResults runs every query of park A's dashboards over the last six
// hours, choosing the preferred variable values, keyed by dashboard and
// query name.
func panelResults(t *testing.T, ctx context.Context, conn driver.Conn, now time.Time) map[string]panelResult {
	t.Helper()
	ds, err := dashboards.Build(dashboards.Park{Name: parkA, Sites: []string{"ENT01", "ENT02"}},
		dashboards.Options{DatasourceUID: "lifeline-clickhouse"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]panelResult{}
	for _, d := range ds {
		e := expander{from: now.Add(-6 * time.Hour), to: now.Add(time.Minute), interval: 20 * time.Second, vars: map[string][]string{}}
		for k, v := range d.Constants() {
			e.vars[k] = []string{v}
		}
		for _, q := range d.Queries() {
			sql, err := e.expand(q.SQL)
			if err != nil {
				t.Fatalf("%s (%s): %v", q.Name, q.File, err)
			}
			_, rows, err := run(ctx, conn, sql)
			if err != nil {
				t.Fatalf("%s (%s): %v", q.Name, q.File, err)
			}
			if name, ok := strings.CutPrefix(q.Name, "variable "); ok {
				e.vars[name] = []string{preferred[name]}
			}
			out[d.UID+"/"+q.Name] = panelResult{rows: rows, rollups: strings.Contains(q.SQL, "samples_1"),
				clock: strings.Contains(q.SQL, "now()")}
		}
	}
	return out
}

// seedConditionEvents: ENT01's DCS raised and acknowledged LSH201 an hour
// ago; the raise also came again by a ConditionRefresh.
func seedConditionEvents(t *testing.T, ctx context.Context, st *store.Store, now time.Time) {
	t.Helper()
	ev := func(id byte, at time.Time, acked, refresh bool) *lifelinev1.ConditionEvent {
		return &lifelinev1.ConditionEvent{EventId: []byte{id}, Source: "dcs", SourceName: "Tank2", ConditionName: "LSH201",
			ConditionId: "nsu=urn:dcs;s=LSH201", TimeNs: at.UnixNano(), Severity: 700, Message: "高液位", Active: true,
			Acked: acked, Retain: true, Refresh: refresh}
	}
	raised := now.Add(-time.Hour)
	if err := st.Insert(ctx, []*store.Batch{{SiteID: "ENT01", Seq: 9001, ConditionEvents: []*lifelinev1.ConditionEvent{
		ev(1, raised, false, false), ev(2, raised.Add(time.Minute), true, false), ev(1, raised, false, true)}}}); err != nil {
		t.Fatal(err)
	}
}
