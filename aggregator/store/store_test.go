package store_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

func TestConfigValidate(t *testing.T) {
	if err := store.DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	several := store.Config{Addr: "ch1:9000, ch2:9000", Database: "lifeline", DialTimeout: time.Second, ReadTimeout: time.Second}
	if err := several.Validate(); err != nil {
		t.Fatalf("two addresses: %v", err)
	}
	if got := several.Addrs(); len(got) != 2 || got[0] != "ch1:9000" || got[1] != "ch2:9000" {
		t.Fatalf("Addrs() = %q", got)
	}
	tests := []struct {
		name string
		edit func(*store.Config)
		want string
	}{
		{"no addr", func(c *store.Config) { c.Addr = "" }, "addr: required"},
		{"addr without port", func(c *store.Config) { c.Addr = "localhost" }, "want host:port"},
		{"second addr without port", func(c *store.Config) { c.Addr = "ch1:9000,ch2" }, `addr "ch2": want host:port`},
		{"bad database", func(c *store.Config) { c.Database = "life-line" }, `database "life-line"`},
		{"empty database", func(c *store.Config) { c.Database = "" }, `database ""`},
		{"bad cluster", func(c *store.Config) { c.Cluster = "prov-1" }, `cluster "prov-1"`},
		{"dial timeout", func(c *store.Config) { c.DialTimeout = 0 }, "dial_timeout"},
		{"read timeout", func(c *store.Config) { c.ReadTimeout = -time.Second }, "read_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := store.DefaultConfig()
			tt.edit(&cfg)
			before := cfg
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.want)
			}
			if cfg != before {
				t.Fatal("Validate changed the config")
			}
		})
	}
}

func TestNotOpen(t *testing.T) {
	s := store.New(store.DefaultConfig(), nil)
	if err := s.Insert(context.Background(), nil); !errors.Is(err, store.ErrNotOpen) {
		t.Fatalf("Insert before Open = %v, want ErrNotOpen", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.Conn() != nil {
		t.Fatal("Conn after Close is not nil")
	}
}

func TestOpenMigrateIdempotent(t *testing.T) {
	chtest.Addr(t) // the shared server and its goroutines exist before the baseline
	// Registered first, so it runs after the Store's own cleanup closes it.
	opts := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opts) })
	ctx := context.Background()
	s := storetest.Open(t)
	caps := s.Capabilities()
	t.Logf("capabilities: %+v", caps)
	if caps.Version == "" {
		t.Fatal("no server version detected")
	}
	for range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("migrate again: %v", err)
		}
	}
	var tables []string
	rows, err := s.Conn().Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	// Every object the schema defines exists, and nothing else.
	want := store.SchemaObjects(s.Capabilities())
	slices.Sort(want)
	if !slices.Equal(tables, want) {
		t.Fatalf("tables = %v, want %v", tables, want)
	}
	// A second Store on the same database migrates without error too.
	cfg := store.DefaultConfig()
	cfg.Addr = chtest.Addr(t)
	cfg.Database = dbName(t, s)
	s2 := store.New(cfg, nil)
	if err := s2.Open(ctx); err != nil {
		t.Fatalf("second open: %v", err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
}

func dbName(t testing.TB, s *store.Store) string {
	t.Helper()
	var db string
	if err := s.Conn().QueryRow(context.Background(), "SELECT currentDatabase()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	return db
}

func num(point string, tsNs int64, v float64) *lifelinev1.Sample {
	return &lifelinev1.Sample{PointId: point, SourceTimeNs: tsNs, ServerTimeNs: tsNs + 1_000, ReceiveTimeNs: tsNs + 2_000,
		Value: &lifelinev1.Sample_Number{Number: v}}
}

type sampleRow struct {
	Site, Point    string
	TS             time.Time
	TSNs, Server   int64
	Recv           int64
	Value          float64
	Text, Type     string
	Status         uint32
	Good, Backfill uint8
	Seq            uint64
}

func readSamples(t *testing.T, s *store.Store, final bool) []sampleRow {
	t.Helper()
	q := "SELECT site_id, point_id, ts, ts_ns, server_ns, recv_ns, value, value_text, toString(value_type), status, good, backfill, seq FROM samples"
	if final {
		q += " FINAL"
	}
	rows, err := s.Conn().Query(context.Background(), q+" ORDER BY site_id, point_id, ts_ns")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []sampleRow
	for rows.Next() {
		var r sampleRow
		if err := rows.Scan(&r.Site, &r.Point, &r.TS, &r.TSNs, &r.Server, &r.Recv, &r.Value, &r.Text, &r.Type,
			&r.Status, &r.Good, &r.Backfill, &r.Seq); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestInsertRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	base := time.Date(2025, 6, 1, 3, 4, 5, 678_901_234, time.UTC).UnixNano()
	samples := []*lifelinev1.Sample{
		num("T101.LT", base, 12.345678901234),
		{PointId: "T101.LSHH", SourceTimeNs: base + 1, ReceiveTimeNs: base + 5, Value: &lifelinev1.Sample_Flag{Flag: true}},
		{PointId: "T101.LSLL", SourceTimeNs: base + 2, ReceiveTimeNs: base + 5, Value: &lifelinev1.Sample_Flag{Flag: false}},
		{PointId: "T101.STATE", SourceTimeNs: base + 3, ReceiveTimeNs: base + 5, Value: &lifelinev1.Sample_Text{Text: "液位高高报警"}},
		{PointId: "GT-201", SourceTimeNs: base + 4, ReceiveTimeNs: base + 5, Value: &lifelinev1.Sample_Number{Number: -0.5},
			Status: 0x80000000}, // Bad
		{PointId: "GT-202", SourceTimeNs: base + 5, ReceiveTimeNs: base + 5, Value: &lifelinev1.Sample_Number{Number: 3},
			Status: 0x40000000}, // Uncertain
		{PointId: "NOVALUE", SourceTimeNs: base + 6, Status: 0x80320000},
	}
	batches := []*store.Batch{
		{SiteID: "site-a", Seq: 7, Samples: samples[:4]},
		{SiteID: "site-a", Seq: 8, Backfill: true, Samples: samples[4:]},
	}
	if err := s.Insert(ctx, batches); err != nil {
		t.Fatal(err)
	}
	got := readSamples(t, s, true)
	if len(got) != len(samples) {
		t.Fatalf("%d rows, want %d", len(got), len(samples))
	}
	byPoint := map[string]sampleRow{}
	for _, r := range got {
		byPoint[r.Point] = r
	}
	dt64 := s.Capabilities().DateTime64
	for i, smp := range samples {
		r, ok := byPoint[smp.GetPointId()]
		if !ok {
			t.Fatalf("point %s missing", smp.GetPointId())
		}
		wantTS := time.Unix(0, smp.GetSourceTimeNs()).UTC().Truncate(time.Second)
		if dt64 {
			wantTS = time.Unix(0, smp.GetSourceTimeNs()).UTC().Truncate(time.Millisecond)
		}
		if !r.TS.Equal(wantTS) || r.TSNs != smp.GetSourceTimeNs() || r.Server != smp.GetServerTimeNs() || r.Recv != smp.GetReceiveTimeNs() {
			t.Errorf("%s: times ts=%v ts_ns=%d server=%d recv=%d, want %v %d %d %d", r.Point, r.TS, r.TSNs, r.Server, r.Recv,
				wantTS, smp.GetSourceTimeNs(), smp.GetServerTimeNs(), smp.GetReceiveTimeNs())
		}
		if r.Status != smp.GetStatus() || r.Good != map[bool]uint8{true: 1}[smp.GetStatus()>>30 == 0] {
			t.Errorf("%s: status %#x good %d", r.Point, r.Status, r.Good)
		}
		wantSeq, wantBackfill := uint64(7), uint8(0)
		if i >= 4 {
			wantSeq, wantBackfill = 8, 1
		}
		if r.Site != "site-a" || r.Seq != wantSeq || r.Backfill != wantBackfill {
			t.Errorf("%s: site %q seq %d backfill %d", r.Point, r.Site, r.Seq, r.Backfill)
		}
		switch v := smp.GetValue().(type) {
		case *lifelinev1.Sample_Number:
			if r.Type != "number" || r.Value != v.Number || r.Text != "" {
				t.Errorf("%s: %+v, want number %v", r.Point, r, v.Number)
			}
		case *lifelinev1.Sample_Flag:
			want := 0.0
			if v.Flag {
				want = 1
			}
			if r.Type != "bool" || r.Value != want || r.Text != "" {
				t.Errorf("%s: %+v, want bool %v", r.Point, r, v.Flag)
			}
		case *lifelinev1.Sample_Text:
			if r.Type != "text" || !math.IsNaN(r.Value) || r.Text != v.Text {
				t.Errorf("%s: %+v, want text %q", r.Point, r, v.Text)
			}
		case nil:
			if r.Type != "number" || !math.IsNaN(r.Value) {
				t.Errorf("%s: %+v, want NaN number", r.Point, r)
			}
		}
	}
}

func TestInsertAbsurdTimestamps(t *testing.T) { checkSampleTimes(t, storetest.Open(t)) }

// checkSampleTimes inserts samples timed before, at and after the range of
// samples.ts and checks ts is clamped to it while ts_ns keeps the time.
func checkSampleTimes(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	pre1970 := time.Date(1965, 3, 1, 12, 0, 0, 123_456_789, time.UTC).UnixNano()
	samples := []*lifelinev1.Sample{
		num("neg", -5_000_000_000_000_000_000, 1),
		num("zero", 0, 2),
		num("huge", math.MaxInt64, 3),
		num("pre1970", pre1970, 4),
	}
	if err := s.Insert(ctx, []*store.Batch{{SiteID: "x", Seq: 1, Samples: samples}}); err != nil {
		t.Fatal(err)
	}
	got := readSamples(t, s, true)
	if len(got) != len(samples) {
		t.Fatalf("%d rows, want %d", len(got), len(samples))
	}
	// ts holds the time clamped to the column's range, ts_ns the exact one.
	epoch := time.Unix(0, 0).UTC()
	wantTS := map[string]time.Time{"neg": epoch, "zero": epoch, "huge": time.Unix(math.MaxUint32, 0).UTC(), "pre1970": epoch}
	if s.Capabilities().DateTime64 {
		wantTS = map[string]time.Time{"neg": time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), "zero": epoch,
			"huge": time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC), "pre1970": time.UnixMilli(pre1970 / 1e6).UTC()}
	}
	for _, r := range got {
		want := map[string]int64{"neg": -5_000_000_000_000_000_000, "zero": 0, "huge": math.MaxInt64, "pre1970": pre1970}[r.Point]
		if r.TSNs != want {
			t.Errorf("%s: ts_ns %d, want %d", r.Point, r.TSNs, want)
		}
		if !r.TS.Equal(wantTS[r.Point]) {
			t.Errorf("%s: ts %v, want %v", r.Point, r.TS.UTC(), wantTS[r.Point])
		}
	}
}

func TestInsertIdempotent(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	base := time.Date(2025, 1, 31, 23, 59, 59, 0, time.UTC).UnixNano()
	var samples []*lifelinev1.Sample
	for i := range 1000 {
		// Straddles a month boundary, so the insert spans two partitions.
		samples = append(samples, num("P"+string(rune('A'+i%5)), base+int64(i)*int64(10*time.Millisecond), float64(i)))
	}
	b := &store.Batch{SiteID: "s1", Seq: 1, Samples: samples}
	count := func() uint64 {
		var n uint64
		if err := s.Conn().QueryRow(ctx, "SELECT count() FROM samples FINAL").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i := range 3 {
		if err := s.Insert(ctx, []*store.Batch{b}); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 1000 {
			t.Fatalf("after insert %d: count FINAL = %d, want 1000", i+1, n)
		}
	}
	if err := s.Conn().Exec(ctx, "OPTIMIZE TABLE samples FINAL"); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM samples").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1000 {
		t.Fatalf("after OPTIMIZE: count = %d, want 1000", n)
	}
	var rows, inserts uint64
	if err := s.Conn().QueryRow(ctx, "SELECT sum(rows), sum(inserts) FROM ingest_batches WHERE site_id = 's1' AND seq = 1").Scan(&rows, &inserts); err != nil {
		t.Fatal(err)
	}
	// Insert skips a batch the ledger already holds: stored once.
	if rows != 1000 || inserts != 1 {
		t.Fatalf("ledger rows=%d inserts=%d, want 1000 and 1", rows, inserts)
	}
}

func TestCommitted(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	mk := func(site string, seq uint64, n int) *store.Batch {
		b := &store.Batch{SiteID: site, Seq: seq}
		for i := range n {
			b.Samples = append(b.Samples, num("P1", int64(seq)*1e9+int64(i), 1))
		}
		return b
	}
	// 3 and 7 are empty batches (every sample rejected).
	if err := s.Insert(ctx, []*store.Batch{mk("a", 1, 2), mk("a", 2, 1), mk("a", 3, 0), mk("b", 4, 1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Insert(ctx, []*store.Batch{mk("a", 5, 3), mk("a", 7, 0), mk("a", 8, 1), mk("a", 8, 1)}); err != nil {
		t.Fatal(err)
	}
	// Only empty batches: no samples insert at all.
	if err := s.Insert(ctx, []*store.Batch{mk("c", 10, 0)}); err != nil {
		t.Fatal(err)
	}
	// Merging must not drop the rows = 0 entries.
	if err := s.Conn().Exec(ctx, "OPTIMIZE TABLE ingest_batches FINAL"); err != nil {
		t.Fatal(err)
	}
	r := func(a, b uint64) *lifelinev1.SeqRange { return &lifelinev1.SeqRange{First: a, Last: b} }
	tests := []struct {
		site string
		from uint64
		want []*lifelinev1.SeqRange
	}{
		{"a", 0, []*lifelinev1.SeqRange{r(1, 3), r(5, 5), r(7, 8)}},
		{"a", 2, []*lifelinev1.SeqRange{r(2, 3), r(5, 5), r(7, 8)}},
		{"a", 6, []*lifelinev1.SeqRange{r(7, 8)}},
		{"a", 9, nil},
		{"b", 0, []*lifelinev1.SeqRange{r(4, 4)}},
		{"c", 0, []*lifelinev1.SeqRange{r(10, 10)}},
		{"nobody", 0, nil},
	}
	for _, tt := range tests {
		got, err := s.Committed(ctx, store.Span{SiteID: tt.site, From: tt.from, To: math.MaxUint64})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(got, tt.want, func(a, b *lifelinev1.SeqRange) bool { return proto.Equal(a, b) }) {
			t.Errorf("Committed(%s, %d) = %v, want %v", tt.site, tt.from, got, tt.want)
		}
	}
}

func TestInsertInvalid(t *testing.T) {
	s := storetest.Open(t)
	ctx := context.Background()
	for name, batches := range map[string][]*store.Batch{
		"nil batch":  {nil},
		"no site":    {{Seq: 1}},
		"nil sample": {{SiteID: "a", Seq: 1, Samples: []*lifelinev1.Sample{nil}}},
	} {
		err := s.Insert(ctx, batches)
		if !store.IsPermanent(err) {
			t.Errorf("%s: Insert = %v, want a permanent error", name, err)
		}
	}
}

func TestSaveCatalog(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	f := func(v float64) *float64 { return &v }
	points := []*lifelinev1.Point{
		{
			Id: "T101.LT", Name: "1#储罐液位", Description: "液位高高报警联锁", Unit: "m", Kind: "level",
			RangeLow: f(0), RangeHigh: f(20),
			Limits:       &lifelinev1.Limits{LowLow: f(1), Low: f(2), High: f(17), HighHigh: f(18.5), Deadband: 0.1},
			HazardSource: &lifelinev1.HazardSource{Code: "HZ-01", Name: "罐区一", Level: 2},
			Equipment:    "T101", NodeId: "nsu=urn:plant;s=T101.LT", Endpoint: "opc.tcp://dcs:4840",
		},
		{Id: "GT-201", Name: "可燃气体探测器", Unit: "%LEL", Kind: "gas_combustible",
			Limits: &lifelinev1.Limits{Stage1: f(25), Stage2: f(50)}, OutOfService: true},
		{Id: "bare"},
	}
	if err := s.SaveCatalog(ctx, "site-1", "化工园区", "1.2.3", points); err != nil {
		t.Fatal(err)
	}
	type pointRow struct {
		ID, Name, Desc, Unit, Kind  string
		RangeLow, RangeHigh         *float64
		LL, L, H, HH, S1, S2        *float64
		Deadband                    float64
		HzCode, HzName              string
		HzLevel                     uint8
		Equipment, Endpoint, NodeID string
		OOS                         uint8
	}
	rows, err := s.Conn().Query(ctx, `SELECT point_id, name, description, unit, kind, range_low, range_high,
		ll, l, h, hh, stage1, stage2, deadband, hazard_code, hazard_name, hazard_level, equipment, endpoint, node_id, out_of_service
		FROM points FINAL WHERE site_id = 'site-1' ORDER BY point_id`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]pointRow{}
	for rows.Next() {
		var r pointRow
		if err := rows.Scan(&r.ID, &r.Name, &r.Desc, &r.Unit, &r.Kind, &r.RangeLow, &r.RangeHigh, &r.LL, &r.L, &r.H, &r.HH,
			&r.S1, &r.S2, &r.Deadband, &r.HzCode, &r.HzName, &r.HzLevel, &r.Equipment, &r.Endpoint, &r.NodeID, &r.OOS); err != nil {
			t.Fatal(err)
		}
		got[r.ID] = r
	}
	rows.Close()
	if len(got) != 3 {
		t.Fatalf("%d points, want 3", len(got))
	}
	p := got["T101.LT"]
	if p.Name != "1#储罐液位" || p.Desc != "液位高高报警联锁" || p.HzName != "罐区一" || p.HzLevel != 2 ||
		p.NodeID != "nsu=urn:plant;s=T101.LT" || *p.RangeHigh != 20 || *p.HH != 18.5 || *p.LL != 1 || p.S1 != nil ||
		p.Deadband != 0.1 || p.OOS != 0 {
		t.Errorf("T101.LT = %+v", p)
	}
	g := got["GT-201"]
	if g.Name != "可燃气体探测器" || g.Unit != "%LEL" || *g.S1 != 25 || *g.S2 != 50 || g.HH != nil || g.RangeLow != nil || g.OOS != 1 {
		t.Errorf("GT-201 = %+v", g)
	}
	var park, version string
	if err := s.Conn().QueryRow(ctx, "SELECT park, agent_version FROM sites FINAL WHERE site_id = 'site-1'").Scan(&park, &version); err != nil {
		t.Fatal(err)
	}
	if park != "化工园区" || version != "1.2.3" {
		t.Errorf("site: park %q version %q", park, version)
	}
}
