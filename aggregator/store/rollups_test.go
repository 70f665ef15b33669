package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Rollups hold the right figures, and a batch inserted again (a retry after
// a lost reply) is not counted twice.
func TestRollupsExactAfterReinsert(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	b := &store.Batch{SiteID: "S1", Seq: 1}
	for i := range 180 { // 08:00:00 … 08:02:59, one per second
		smp := &lifelinev1.Sample{PointId: "P", SourceTimeNs: start.Add(time.Duration(i) * time.Second).UnixNano(),
			Value: &lifelinev1.Sample_Number{Number: float64(i)}}
		if i%60 == 59 {
			smp.Status = 0x80000000 // the last second of each minute is bad
		}
		b.Samples = append(b.Samples, smp)
	}
	b.Samples = append(b.Samples, &lifelinev1.Sample{PointId: "P", SourceTimeNs: start.Add(3 * time.Minute).UnixNano(),
		Value: &lifelinev1.Sample_Text{Text: "维护"}})
	for range 3 {
		if err := s.Insert(ctx, []*store.Batch{b}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(table string, want []string) {
		t.Helper()
		got := runQuery(t, s, `SELECT bucket, countMerge(samples), sumMerge(bad), sumMerge(numeric),
    minMerge(min_value), maxMerge(max_value), sumMerge(sum_value), argMaxMerge(last_value), maxMerge(last_ns)
FROM `+table+` GROUP BY bucket ORDER BY bucket`)
		if len(got) != len(want) {
			t.Fatalf("%s: %q, want %q", table, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s row %d: %q, want %q", table, i, got[i], want[i])
			}
		}
	}
	minute := func(m int) int64 { return start.Add(time.Duration(m*60+58) * time.Second).UnixNano() }
	sum := func(lo, hi int) int { return (lo + hi) * (hi - lo + 1) / 2 }
	check("samples_1m", []string{
		fmtRow("2026-03-02 08:00:00", 60, 1, 59, 0, 58, sum(0, 58), 58, minute(0)),
		fmtRow("2026-03-02 08:01:00", 60, 1, 59, 60, 118, sum(60, 118), 118, minute(1)),
		fmtRow("2026-03-02 08:02:00", 60, 1, 59, 120, 178, sum(120, 178), 178, minute(2)),
		// A text sample only: counted, no numeric figures.
		"2026-03-02 08:03:00 | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0",
	})
	check("samples_1h", []string{
		fmtRow("2026-03-02 08:00:00", 181, 3, 177, 0, 178, sum(0, 178)-59-119, 178, minute(2)),
	})
}

func fmtRow(bucket string, n, bad, numeric, lo, hi, sum, last int, lastNs int64) string {
	return runFormat(bucket, n, bad, numeric, lo, hi, sum, last, lastNs)
}

func runFormat(vals ...any) string {
	out := ""
	for i, v := range vals {
		if i > 0 {
			out += " | "
		}
		out += format(v)
	}
	return out
}

// On servers without TTL, retention drops whole months older than the
// retention and keeps the rest.
func TestRetentionDropsOldPartitions(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	if s.Capabilities().TTL {
		t.Skip("server has TTL; retention is a table TTL there")
	}
	now := time.Now().UTC()
	old := now.AddDate(0, -3, 0)
	recent := now.AddDate(0, 0, -1)
	b := &store.Batch{SiteID: "S1", Seq: 1, Samples: []*lifelinev1.Sample{
		{PointId: "P", SourceTimeNs: old.UnixNano(), Value: &lifelinev1.Sample_Number{Number: 1}},
		{PointId: "P", SourceTimeNs: recent.UnixNano(), Value: &lifelinev1.Sample_Number{Number: 2}},
	}}
	if err := s.Insert(ctx, []*store.Batch{b}); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyRetention(ctx, store.Retention{RawDays: 30, MinuteDays: 400}); err != nil {
		t.Fatal(err)
	}
	got := runQuery(t, s, "SELECT value FROM samples ORDER BY ts_ns")
	if len(got) != 1 || got[0] != "2" {
		t.Fatalf("samples after retention: %q, want only the recent one", got)
	}
	// The rollups keep both (400 days).
	if got := runQuery(t, s, "SELECT count() FROM samples_1m"); got[0] != "2" {
		t.Fatalf("samples_1m rows after retention: %q, want 2", got)
	}
	if err := s.ApplyRetention(ctx, store.Retention{RawDays: 7}); err == nil {
		t.Fatal("7 days of raw data accepted")
	}
}
