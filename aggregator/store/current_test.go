package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chdbtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// openCurrent attaches a Store to a fresh chdb database: the schema is made
// by Migrate exactly as on a current server it connects to.
func openCurrent(t *testing.T) *store.Store {
	t.Helper()
	conn := chdbtest.Open(t)
	s := store.New(store.DefaultConfig(), slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Attach(ctx, conn); err != nil {
		t.Fatalf("migrate on chdb: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// A current server is detected as one: the schema takes every capability.
func TestCurrentServerCapabilities(t *testing.T) {
	s := openCurrent(t)
	caps := s.Capabilities()
	if !caps.DateTime64 || !caps.LowCardinality || caps.LowCardinalitySetting || !caps.Codecs || !caps.TTL {
		t.Fatalf("capabilities of ClickHouse %s: %+v", caps.Version, caps)
	}
}

// seedRecent adds what the example data lacks, in the shapes the writer
// and the ingest produce: a live batch from a buffer with an identity and
// its back-filled predecessor, an empty batch, heartbeats, and a batch set
// aside. It is dated now, so retention keeps it.
func seedRecent(t *testing.T, s *store.Store, now time.Time) {
	t.Helper()
	ctx := context.Background()
	batch := func(seq uint64, backfill bool, from time.Time) *store.Batch {
		b := &store.Batch{SiteID: "S1", BufferID: "b-0001", Seq: seq, Backfill: backfill}
		for i := range 90 {
			at := from.Add(time.Duration(i) * 20 * time.Second).UnixNano()
			smp := &lifelinev1.Sample{PointId: "T102.LT", SourceTimeNs: at, ServerTimeNs: at + 1e6, ReceiveTimeNs: at + 2e6}
			switch i % 10 {
			case 0:
				smp.Value = &lifelinev1.Sample_Flag{Flag: i%20 == 0}
			case 1:
				smp.Value = &lifelinev1.Sample_Text{Text: "运行"}
			case 2:
				smp.Status = 0x80000000 // bad, no value
			default:
				smp.Value = &lifelinev1.Sample_Number{Number: 2 + float64(i)/100}
			}
			b.Samples = append(b.Samples, smp)
		}
		return b
	}
	hour := now.Truncate(time.Hour).Add(-time.Hour)
	mustSeed(t, s.Insert(ctx, []*store.Batch{batch(11, false, hour.Add(30*time.Minute)), {SiteID: "S1", BufferID: "b-0001", Seq: 12}}))
	mustSeed(t, s.Insert(ctx, []*store.Batch{batch(10, true, hour)}))
	mustSeed(t, s.SaveAgentStatus(ctx, []store.AgentStatus{
		{SiteID: "S1", AgentVersion: "1.2.0", Connected: true, Time: now.Add(-2 * time.Minute),
			Status: &lifelinev1.Status{TimeNs: now.Add(-2 * time.Minute).UnixNano(), BacklogBatches: 3, BacklogBytes: 4096,
				DrainRate: 1500, SamplesRead: 900, SamplesAcked: 800, FrozenPoints: []string{"T101.LT"},
				Sources: []*lifelinev1.SourceStatus{{Name: "dcs", Connected: true}, {Name: "gds"}}}},
		{SiteID: "S2", AgentVersion: "1.1.0", Time: now.Add(-time.Minute)},
	}))
	mustSeed(t, s.SetAside(ctx, store.Rejected{Batch: batch(13, false, hour.Add(45*time.Minute)),
		State: store.RejectSetAside, Reason: "test", Code: 53, ReceivedAt: now}))
}

// tableDigest returns, per table of the schema, its row count after merges
// and for the ledger and the rollups their merged content.
func tableDigest(t *testing.T, s *store.Store) map[string][]string {
	t.Helper()
	ctx := context.Background()
	out := map[string][]string{}
	for _, name := range store.SchemaObjects(s.Capabilities()) {
		if strings.HasSuffix(name, "_mv") {
			continue
		}
		if err := s.Conn().Exec(ctx, "OPTIMIZE TABLE "+name+" FINAL"); err != nil {
			t.Fatalf("optimize %s: %v", name, err)
		}
		out[name] = runQuery(t, s, "SELECT count() FROM "+name)
	}
	for _, table := range []string{"samples_1m", "samples_1h"} {
		out[table+" merged"] = runQuery(t, s, `SELECT site_id, point_id, toString(bucket), countMerge(samples), sumMerge(bad),
    sumMerge(numeric), round(sumMerge(sum_value), 6), minMerge(min_value), maxMerge(max_value),
    argMaxMerge(last_value), maxMerge(last_ns)
FROM `+table+` GROUP BY site_id, point_id, bucket ORDER BY site_id, point_id, bucket`)
	}
	out["ledger"] = runQuery(t, s, `SELECT site_id, buffer_id, seq, sum(rows), sum(inserts)
FROM ingest_batches GROUP BY site_id, buffer_id, seq ORDER BY site_id, buffer_id, seq`)
	out["samples rows"] = runQuery(t, s, `SELECT site_id, point_id, ts_ns, toString(toDateTime(ts)), value_type, value_text,
    status, good, seq, backfill, buffer_id, isNaN(value), if(isNaN(value), 0, value)
FROM samples FINAL ORDER BY site_id, point_id, ts_ns`)
	return out
}

// The store on ClickHouse 26 (chdb) and on 18.16 agrees on the same data:
// every example query of docs/schema.md, every table after merges, the
// rollups and the ledger the views fill, the store's own reads, and what
// retention keeps.
func TestCurrentServerAgreesWith1816(t *testing.T) {
	ctx := context.Background()
	old, cur := storetest.Open(t), openCurrent(t)
	if caps := old.Capabilities(); strings.HasPrefix(caps.Version, "18.") &&
		(caps.DateTime64 || !caps.LowCardinalitySetting || caps.Codecs || caps.TTL || caps.NullableStates || caps.DimensionsSetting) {
		t.Fatalf("capabilities of ClickHouse %s: %+v", caps.Version, caps)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, s := range []*store.Store{old, cur} {
		seedExamples(t, s)
		seedRecent(t, s, now)
	}
	files, err := filepath.Glob(filepath.Join(queriesDir, "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("example queries: %v", err)
	}
	for _, file := range files {
		sql, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(file)
		want := runQuery(t, old, string(sql))
		got, err := queryRows(cur, string(sql))
		if err != nil {
			t.Errorf("%s on ClickHouse 26: %v", name, err)
			continue
		}
		agree(t, name, want, got)
	}
	reads := func(s *store.Store) map[string][]string {
		out := map[string][]string{}
		ranges, err := s.Committed(ctx, store.Span{SiteID: "S1", BufferID: "b-0001", From: 1, To: 20})
		mustSeed(t, err)
		out["committed"] = []string{fmt.Sprint(ranges)}
		seq, err := s.LatestSeq(ctx, "S1")
		mustSeed(t, err)
		newest, err := s.NewestCommitted(ctx, "S1", "b-0001", 0)
		mustSeed(t, err)
		out["seq"] = []string{fmt.Sprint(seq, newest)}
		found, err := s.Existing(ctx, "S1", []store.SampleKey{
			{PointID: "T101.LT", TsNs: time.Date(2026, 3, 2, 8, 0, 30, 0, time.UTC).UnixNano()},
			{PointID: "T101.LT", TsNs: 1}, {PointID: "it's", TsNs: 2}})
		mustSeed(t, err)
		out["existing"] = []string{fmt.Sprint(len(found))}
		hb, err := s.LastHeartbeats(ctx, now.Add(-time.Hour))
		mustSeed(t, err)
		out["heartbeats"] = []string{fmt.Sprint(hb)}
		sites, err := s.Sites(ctx)
		mustSeed(t, err)
		out["sites"] = []string{fmt.Sprint(sites)}
		cfgs, err := s.PointConfigs(ctx)
		mustSeed(t, err)
		out["points"] = []string{fmt.Sprint(len(cfgs))}
		drift, err := s.RollupDrift(ctx, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), now.Add(time.Hour), "")
		mustSeed(t, err)
		out["drift"] = []string{fmt.Sprint(drift)}
		return out
	}
	compareMaps(t, "store reads", reads(old), reads(cur))
	compareMaps(t, "tables", tableDigest(t, old), tableDigest(t, cur))

	// Retention: partitions dropped on 18.16, TTL on 26; the March data is
	// older than 30 days either way, today's stays.
	for _, s := range []*store.Store{old, cur} {
		mustSeed(t, s.ApplyRetention(ctx, store.DefaultRetention()))
	}
	after := func(s *store.Store) map[string][]string {
		out := map[string][]string{}
		for table, col := range map[string]string{"samples": "ts", "samples_1m": "bucket", "samples_1h": "bucket", "ingest_batches": "day"} {
			mustSeed(t, s.Conn().Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"))
			out[table] = runQuery(t, s, "SELECT count(), toString(min(toDate("+col+"))) FROM "+table)
		}
		return out
	}
	got := after(old)
	compareMaps(t, "after retention", got, after(cur))
	if got["samples"][0] != fmt.Sprint(180, " | ", now.Truncate(time.Hour).Add(-time.Hour).Format(time.DateOnly)) {
		t.Errorf("after retention, samples: %v, want today's 300", got["samples"])
	}
}

// agree compares results of both servers. Recent times are masked: the
// stores stamp rows with now() a few seconds apart.
func agree(t *testing.T, what string, old, cur []string) {
	t.Helper()
	recent := recentTimes()
	mask := func(rows []string) string { return recent.ReplaceAllString(strings.Join(rows, "\n"), "today") }
	if mask(old) != mask(cur) {
		t.Errorf("%s differs:\n18.16:\n%s\n26:\n%s", what, strings.Join(old, "\n"), strings.Join(cur, "\n"))
	}
}

func compareMaps(t *testing.T, what string, old, cur map[string][]string) {
	t.Helper()
	for k, v := range old {
		agree(t, what+": "+k, v, cur[k])
	}
	for k := range cur {
		if _, ok := old[k]; !ok {
			t.Errorf("%s: %s only on 26", what, k)
		}
	}
}

// recentTimes matches the date-times of today and of the hour before, in
// UTC: rows stamped with now() before midnight are still compared after.
func recentTimes() *regexp.Regexp {
	now := time.Now().UTC()
	days := regexp.QuoteMeta(now.Format(time.DateOnly)) + "|" + regexp.QuoteMeta(now.Add(-time.Hour).Format(time.DateOnly))
	return regexp.MustCompile(`(?:` + days + `) \d\d:\d\d:\d\d`)
}

// On a current server ts is a DateTime64(3): times before 1970 keep their
// milliseconds, and the range runs from 1900 to 2262.
func TestCurrentServerSampleTimes(t *testing.T) {
	s := openCurrent(t)
	if !s.Capabilities().DateTime64 {
		t.Fatal("chdb without DateTime64")
	}
	checkSampleTimes(t, s)
}
