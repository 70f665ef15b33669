package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// queriesDir holds the example queries of docs/schema.md, one per file.
const queriesDir = "../../docs/queries"

func f64(v float64) *float64 { return &v }

// seedExamples writes the data the example queries are checked against:
// two enterprises of park P1, four points (GT101 out of service), one hour
// of samples, alarms, a gap and a batch stored twice.
func seedExamples(t *testing.T, s *store.Store) {
	t.Helper()
	seedExamplesWith(t, context.Background(), s)
}

// seedExamplesWith is seedExamples with the context (and its settings) of
// every write.
func seedExamplesWith(t *testing.T, ctx context.Context, s *store.Store) {
	t.Helper()
	seedCatalog(t, ctx, s)
	seedSamples(t, ctx, s)
	seedAlarms(t, ctx, s)
	seedBackfill(t, ctx, s)
	seedConditions(t, ctx, s)
}

// seedBackfill: site S3's agent stopped 07:30-07:40 and its values were
// read back from the OPC UA server's history; its other source's server
// keeps none (a not_available outage 09:00-09:10).
func seedBackfill(t *testing.T, ctx context.Context, s *store.Store) {
	t.Helper()
	at := func(hm string) time.Time {
		v, err := time.Parse(time.DateTime, "2026-03-02 "+hm+":00")
		mustSeed(t, err)
		return v
	}
	b := &store.Batch{SiteID: "S3", Seq: 1, Gaps: []*lifelinev1.Gap{
		{PointIds: []string{"L301.LT", "L302.LT"}, FromNs: at("07:30").UnixNano(), ToNs: at("07:40").UnixNano(), Reason: "agent_stopped",
			Recovery: "partial", Recovered: 9, UnrecoveredPointIds: []string{"L302.LT"}},
		{PointIds: []string{"P301.PT"}, FromNs: at("09:00").UnixNano(), ToNs: at("09:10").UnixNano(), Reason: "source_unavailable",
			Recovery: "not_available"},
	}}
	for m := range 20 { // one value a minute from 07:25; 07:31-07:39 read back
		ts := at("07:25").Add(time.Duration(m) * time.Minute)
		history := ts.After(at("07:30")) && ts.Before(at("07:40"))
		b.Samples = append(b.Samples, &lifelinev1.Sample{PointId: "L301.LT", SourceTimeNs: ts.UnixNano(), ReceiveTimeNs: ts.UnixNano(),
			Value: &lifelinev1.Sample_Number{Number: float64(m)}, History: history})
	}
	// L302.LT (in service) holds steady 08:00-09:00: one value at 07:00,
	// then the agent knew it alive every minute (the first minute twice, a
	// batch re-sent): 100 % online 08:00-09:00, 0 % after.
	steady := &store.Batch{SiteID: "S3", Seq: 2, Samples: []*lifelinev1.Sample{{PointId: "L302.LT", SourceTimeNs: at("07:00").UnixNano(),
		ReceiveTimeNs: at("07:00").UnixNano(), Value: &lifelinev1.Sample_Number{Number: 3.5}}}}
	for m := range 60 {
		steady.Liveness = append(steady.Liveness, &lifelinev1.Liveness{MinuteNs: at("08:00").Add(time.Duration(m) * time.Minute).UnixNano(), PointIds: []string{"L302.LT"}})
	}
	steady.Liveness = append(steady.Liveness, steady.Liveness[0])
	mustSeed(t, s.Insert(ctx, []*store.Batch{b, steady}))
	mustSeed(t, s.SaveCatalog(ctx, "S3", "P1", "test", []*lifelinev1.Point{{Id: "L302.LT", Name: "L302 液位", Unit: "m", Kind: "level", Equipment: "L302 储罐"}}))
}

// mustSeed fails the test on a seeding error.
func mustSeed(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// seedCatalog: the points of sites S1 and S2 (GT101 out of service) and an
// older configuration of T101.LT.
func seedCatalog(t *testing.T, ctx context.Context, s *store.Store) {
	t.Helper()
	must := func(err error) { t.Helper(); mustSeed(t, err) }
	hs1 := &lifelinev1.HazardSource{Code: "HS-01", Name: "甲醇储罐区", Level: 2}
	hs2 := &lifelinev1.HazardSource{Code: "HS-02", Name: "氯化反应装置", Level: 1}
	// An older configuration of T101.LT (H 16), announced on two days.
	for _, day := range []string{"2026-03-01", "2026-03-02"} {
		b, err := s.Conn().PrepareBatch(ctx, "INSERT INTO points (site_id, point_id, kind, h, hh, deadband, hazard_code, equipment, updated_at)")
		if err != nil {
			t.Fatal(err)
		}
		at, _ := time.Parse(time.DateOnly, day)
		if err := b.Append("S1", "T101.LT", "level", f64(16), f64(18), 0.05, "HS-01", "T101 储罐", at); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	must(s.SaveCatalog(ctx, "S1", "P1", "test", []*lifelinev1.Point{
		{Id: "T101.LT", Name: "T101 液位", Unit: "m", Kind: "level", Limits: &lifelinev1.Limits{High: f64(15), HighHigh: f64(18), Deadband: 0.05}, HazardSource: hs1, Equipment: "T101 储罐"},
		{Id: "T102.LT", Name: "T102 液位", Unit: "m", Kind: "level", Limits: &lifelinev1.Limits{Low: f64(2), High: f64(16)}, HazardSource: hs1, Equipment: "T102 储罐"},
		{Id: "GT101", Name: "可燃气体", Unit: "%LEL", Kind: "gas_combustible", Limits: &lifelinev1.Limits{Stage1: f64(25), Stage2: f64(50)}, HazardSource: hs1, Equipment: "罐区防火堤"},
	}))
	must(s.SaveCatalog(ctx, "S2", "P1", "test", []*lifelinev1.Point{
		{Id: "R201.TT", Name: "R201 温度", Unit: "°C", Kind: "temperature", Limits: &lifelinev1.Limits{High: f64(95)}, HazardSource: hs2, Equipment: "R201"},
	}))
	must(s.SaveOutOfService(ctx, []store.OutOfServicePeriod{{SiteID: "S1", PointID: "GT101",
		From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Reason: "探头更换", SetBy: "李工"}}))
}

// seedSamples: one hour of samples (one bad), a gap, and the duplicates
// the queries must not count twice (or must, where the rollups do).
func seedSamples(t *testing.T, ctx context.Context, s *store.Store) {
	t.Helper()
	must := func(err error) { t.Helper(); mustSeed(t, err) }
	hour := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	num := func(point string, at time.Time, v float64, status uint32) *lifelinev1.Sample {
		return &lifelinev1.Sample{PointId: point, SourceTimeNs: at.UnixNano(), Value: &lifelinev1.Sample_Number{Number: v}, Status: status}
	}
	t101 := &store.Batch{SiteID: "S1", Seq: 1}
	for i := range 120 {
		var status uint32
		if i == 60 {
			status = 0x80000000
		}
		t101.Samples = append(t101.Samples, num("T101.LT", hour.Add(time.Duration(i)*30*time.Second), float64(i)/10, status))
	}
	t102 := &store.Batch{SiteID: "S1", Seq: 2}
	for m := range 60 {
		at := hour.Add(time.Duration(m) * time.Minute)
		t102.Samples = append(t102.Samples, num("T102.LT", at, 5, 0), num("GT101", at, 0, 0))
	}
	r201 := &store.Batch{SiteID: "S2", Seq: 1}
	for m := range 30 {
		r201.Samples = append(r201.Samples, num("R201.TT", hour.Add(time.Duration(m)*time.Minute), 80, 0))
	}
	gap := &store.Batch{SiteID: "S1", Seq: 3, Gaps: []*lifelinev1.Gap{{
		FromNs: hour.Add(-time.Hour).UnixNano(), ToNs: hour.Add(-50 * time.Minute).UnixNano(), Samples: 600, Reason: "buffer_full"}}}
	must(s.Insert(ctx, []*store.Batch{t101, t102, r201, gap}))
	// T101's batch again (a retry after a lost reply): not counted twice.
	must(s.Insert(ctx, []*store.Batch{t101}))
	// Three minutes of R201.TT stored twice, as a reconnect race once did:
	// the rollups count them twice.
	must(s.Conn().Exec(ctx, "INSERT INTO samples SELECT * FROM samples WHERE site_id = 'S2' AND ts < '2026-03-02 08:03:00'"))
	// A batch that did reach the ledger twice.
	for range 2 {
		b, err := s.Conn().PrepareBatch(ctx, "INSERT INTO ingest_batches (site_id, seq, rows, inserts)")
		must(err)
		must(b.Append("S2", uint64(99), uint64(0), uint64(1)))
		must(b.Send())
	}
}

// seedAlarms: standing, cleared, back-filled, chattering and flooding
// alarms, each written twice as a re-evaluation would.
func seedAlarms(t *testing.T, ctx context.Context, s *store.Store) {
	t.Helper()
	must := func(err error) { t.Helper(); mustSeed(t, err) }
	d := func(hms string) int64 {
		at, err := time.Parse(time.DateTime, "2026-03-02 "+hms)
		must(err)
		return at.UnixNano()
	}
	ev := func(point, cond string, prio uint8, raised, cleared int64, hz string, backfill bool) store.AlarmEvent {
		site := "S1"
		if strings.HasPrefix(point, "R") {
			site = "S2"
		}
		return store.AlarmEvent{SiteID: site, PointID: point, Condition: cond, Priority: prio, Active: cleared == 0,
			RaisedNs: raised, ClearedNs: cleared, Value: 16.2, Limit: 16, HazardCode: hz, Backfill: backfill}
	}
	events := []store.AlarmEvent{
		ev("T101.LT", "H", 2, d("08:50:00"), 0, "HS-01", false),
		ev("T101.LT", "HH", 1, d("08:55:00"), d("08:58:00"), "HS-01", false),
		ev("T102.LT", "L", 2, d("06:00:00"), 0, "HS-01", false),
		ev("T102.LT", "H", 2, d("07:00:00"), d("07:05:00"), "HS-01", true),
	}
	for i := range 3 { // chattering
		r := d("08:10:00") + int64(i)*15e9
		events = append(events, ev("R201.TT", "H", 2, r, r+10e9, "HS-02", false))
	}
	for i := range 12 { // a flood
		r := d("09:00:00") + int64(i)*40e9
		events = append(events, ev("R201.TT", "bad_quality", 2, r, r+20e9, "HS-02", false))
	}
	// Written twice, as a re-evaluation would: no duplicates.
	must(s.SaveAlarmEvents(ctx, events))
	must(s.SaveAlarmEvents(ctx, events))
}

// answers are the known results on the seeded data: every row, or for
// long results the row count and some rows by index.
var answers = map[string]struct {
	rows  []string
	count int
	some  map[int]string
}{
	"01-point-trend.sql": {count: 60, some: map[int]string{
		0:  "2026-03-02 08:00:00 | 0 | 0.1 | 0.05 | 0.1",
		30: "2026-03-02 08:30:00 | 6.1 | 6.1 | 6.1 | 6.1",
		59: "2026-03-02 08:59:00 | 11.8 | 11.9 | 11.85 | 11.9",
	}},
	"02-raw-samples.sql": {rows: []string{
		"1772440200000000000 | 6 | 2147483648 | 0 | 0",
		"1772440230000000000 | 6.1 | 0 | 1 | 0",
		"1772440260000000000 | 6.2 | 0 | 1 | 0",
		"1772440290000000000 | 6.3 | 0 | 1 | 0",
	}},
	"03-daily-max-per-tank.sql": {rows: []string{
		"L302 储罐 | 2026-03-02 00:00:00 | 3.5",
		"T101 储罐 | 2026-03-02 00:00:00 | 11.9",
		"T102 储罐 | 2026-03-02 00:00:00 | 5",
	}},
	"04-alarms-per-hazard-source.sql": {rows: []string{
		"HS-02 | 15 | 0",
		"HS-01 | 3 | 1",
	}},
	"05-current-alarms.sql": {rows: []string{
		"S1 | T101.LT | H | 2 | 2026-03-02 08:50:00 | 16.2 | 16",
		"S1 | T102.LT | L | 2 | 2026-03-02 06:00:00 | 16.2 | 16",
	}},
	"06-online-rate-per-point-hour.sql": {rows: []string{
		"S1 | T101.LT | 2026-03-02 08:00:00 | 60 | 1",
		"S1 | T101.LT | 2026-03-02 09:00:00 | 0 | 0",
		"S1 | T102.LT | 2026-03-02 08:00:00 | 60 | 1",
		"S1 | T102.LT | 2026-03-02 09:00:00 | 0 | 0",
		"S2 | R201.TT | 2026-03-02 08:00:00 | 30 | 0.5",
		"S2 | R201.TT | 2026-03-02 09:00:00 | 0 | 0",
		"S3 | L302.LT | 2026-03-02 08:00:00 | 60 | 1",
		"S3 | L302.LT | 2026-03-02 09:00:00 | 0 | 0",
	}},
	"07-online-rate-per-enterprise-day.sql": {rows: []string{
		"S1 | 2 | 120 | 2880 | 0.0417",
		"S2 | 1 | 30 | 1440 | 0.0208",
		"S3 | 1 | 61 | 1440 | 0.0424",
	}},
	"08-online-rate-per-park-hour.sql": {rows: []string{
		"P1 | 210 | 240 | 0.875",
	}},
	"09-alarms-per-10-minutes.sql": {rows: []string{
		"S1 | 2026-03-02 06:00:00 | 1",
		"S1 | 2026-03-02 08:50:00 | 2",
		"S2 | 2026-03-02 08:10:00 | 3",
		"S2 | 2026-03-02 09:00:00 | 12",
	}},
	"10-flood-periods.sql": {rows: []string{
		"S2 | 2026-03-02 09:00:00 | 12",
	}},
	"11-chattering.sql": {rows: []string{
		"S2 | R201.TT | H | 2026-03-02 08:10:00 | 3",
	}},
	"12-standing-alarms.sql": {rows: []string{
		"S1 | T102.LT | L | 2026-03-02 06:00:00 | 42",
		"S1 | T101.LT | H | 2026-03-02 08:50:00 | 39.2",
	}},
	"13-top-bad-actors.sql": {rows: []string{
		"S2 | R201.TT | 15 | 270",
		"S1 | T101.LT | 2 | 180",
		"S1 | T102.LT | 1 | 0",
	}},
	"14-gaps.sql": {rows: []string{
		"S1 | 2026-03-02 07:00:00 | 2026-03-02 07:10:00 | 600 | buffer_full | []",
		"S3 | 2026-03-02 07:30:00 | 2026-03-02 07:40:00 | 0 | agent_stopped | [L301.LT L302.LT]",
		"S3 | 2026-03-02 09:00:00 | 2026-03-02 09:10:00 | 0 | source_unavailable | [P301.PT]",
	}},
	"15-samples-stored-twice.sql": {rows: []string{
		"S2 | 2026-03-02 08:00:00 | 1",
		"S2 | 2026-03-02 08:01:00 | 1",
		"S2 | 2026-03-02 08:02:00 | 1",
	}},
	"17-rollup-drift.sql": {rows: []string{
		"S2 | R201.TT | 2026-03-02 08:00:00 | 2 | 1",
		"S2 | R201.TT | 2026-03-02 08:01:00 | 2 | 1",
		"S2 | R201.TT | 2026-03-02 08:02:00 | 2 | 1",
	}},
	"18-gap-recovery.sql": {rows: []string{
		"S3 | agent_stopped | 2026-03-02 07:30:00 | 2026-03-02 07:40:00 | partial | 9 | [L302.LT]",
		"S3 | source_unavailable | 2026-03-02 09:00:00 | 2026-03-02 09:10:00 | not_available | 0 | []",
	}},
	"19-history-backfill-per-hour.sql": {rows: []string{
		"S3 | L301.LT | 2026-03-02 07:00:00 | 9",
	}},
	"20-online-minutes-with-liveness.sql": {rows: []string{
		"S1 | GT101 | 2026-03-02 08:00:00 | 60",
		"S1 | T101.LT | 2026-03-02 08:00:00 | 60",
		"S1 | T102.LT | 2026-03-02 08:00:00 | 60",
		"S2 | R201.TT | 2026-03-02 08:00:00 | 30",
		"S3 | L302.LT | 2026-03-02 08:00:00 | 60",
	}},
	"21-dcs-condition-events.sql": {rows: []string{
		"S1 | dcs | TAH105.Alarm | 2026-03-02 07:50:00 | 500 | 1 | 0 | 0",
		"S1 | dcs | LSH201.Alarm | 2026-03-02 08:10:00 | 700 | 1 | 0 | 1",
		"S1 | dcs | LSH201.Alarm | 2026-03-02 08:12:00 | 700 | 1 | 1 | 1",
		"S1 | dcs | LSH201.Alarm | 2026-03-02 08:15:00 | 100 | 0 | 1 | 1",
	}},
	"22-dcs-standing-conditions.sql": {rows: []string{
		"S1 | dcs | TAH105.Alarm | 2026-03-02 07:50:00 | 500 | 1 | 0",
	}},
	"16-point-limit-history.sql": {count: 2, some: map[int]string{
		0: "2026-03-01 00:00:00 | 2026-03-02 00:00:00 | 16 | 18 | 0.05",
	}},
}

// TestExampleQueries runs every query of docs/queries on seeded data,
// checks its answer, and checks docs/schema.md shows it verbatim.
func TestExampleQueries(t *testing.T) {
	s := storetest.Open(t)
	seedExamples(t, s)
	doc, err := os.ReadFile("../../docs/schema.md")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(queriesDir, "*.sql"))
	if err != nil || len(files) < 12 {
		t.Fatalf("example queries: %d files (%v), want at least 12", len(files), err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			sql, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(doc), "```sql\n"+string(sql)+"```") {
				t.Errorf("docs/schema.md does not show %s verbatim in a sql block", name)
			}
			want, ok := answers[name]
			if !ok {
				t.Fatalf("no known answer for %s", name)
			}
			got := runQuery(t, s, string(sql))
			switch {
			case want.rows != nil:
				if strings.Join(got, "\n") != strings.Join(want.rows, "\n") {
					t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want.rows, "\n"))
				}
			default:
				if len(got) != want.count {
					t.Fatalf("%d rows, want %d:\n%s", len(got), want.count, strings.Join(got, "\n"))
				}
				for i, w := range want.some {
					if got[i] != w {
						t.Errorf("row %d = %q, want %q", i, got[i], w)
					}
				}
			}
		})
	}
}

// runQuery returns each row as its values joined by " | ".
func runQuery(t *testing.T, s *store.Store, sql string) []string {
	t.Helper()
	out, err := queryRows(s, sql)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// queryRows returns each row as its values joined by " | ".
func queryRows(s *store.Store, sql string) ([]string, error) {
	rows, err := s.Conn().Query(context.Background(), sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out []string
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		vals := make([]string, len(dest))
		for i, d := range dest {
			vals[i] = format(reflect.ValueOf(d).Elem().Interface())
		}
		out = append(out, strings.Join(vals, " | "))
	}
	return out, rows.Err()
}

func format(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.DateTime)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case *float64:
		if x == nil {
			return "NULL"
		}
		return strconv.FormatFloat(*x, 'g', -1, 64)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "NULL"
		}
		return format(rv.Elem().Interface())
	}
	return fmt.Sprint(v)
}
