package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Each rollup equals the aggregate of samples FINAL over its buckets, on
// 18.16 and on a current server: many sites' batches a block (a writer
// insert under many agents), several inserts per bucket, bad, text and
// bool samples among the numbers, out-of-order times across batches.
func TestRollupsEqualRawAggregate(t *testing.T) {
	for name, open := range map[string]func(*testing.T) *store.Store{
		"18.16":   func(t *testing.T) *store.Store { return storetest.Open(t) },
		"current": openCurrent,
	} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			seedRollupMix(t, s)
			for _, rb := range []struct{ table, bucket string }{
				{store.TableSamples1m, "toStartOfMinute(ts)"},
				{store.TableSamples1h, "toStartOfHour(ts)"},
			} {
				rollup := runQuery(t, s, `SELECT site_id, point_id, toString(toDateTime(bucket)) AS b, countMerge(samples),
    sumMerge(bad), sumMerge(numeric), round(sumMerge(sum_value), 6), minMerge(min_value), maxMerge(max_value),
    argMaxMerge(last_value), maxMerge(last_ns)
FROM `+rb.table+` GROUP BY site_id, point_id, bucket ORDER BY site_id, point_id, b`)
				const ok = "(good = 1 AND value_type != 'text' AND isFinite(value))"
				raw := runQuery(t, s, `SELECT site_id, point_id, toString(toDateTime(`+rb.bucket+`)) AS b, count(),
    toUInt64(countIf(good = 0)), toUInt64(countIf(`+ok+`)), round(sumIf(value, `+ok+`), 6), minIf(value, `+ok+`),
    maxIf(value, `+ok+`), argMaxIf(value, ts_ns, `+ok+`), maxIf(ts_ns, `+ok+`)
FROM samples FINAL GROUP BY site_id, point_id, b ORDER BY site_id, point_id, b`)
				if len(rollup) != len(raw) || len(raw) < 100 {
					t.Fatalf("%s: %d buckets, raw aggregate %d", rb.table, len(rollup), len(raw))
				}
				for i := range raw {
					if rollup[i] != raw[i] {
						t.Errorf("%s bucket %d: %q, raw aggregate %q", rb.table, i, rollup[i], raw[i])
					}
				}
			}
		})
	}
}

// seedRollupMix inserts 3 inserts of 12 sites' batches, each batch two
// passes over 20 points spread over two hours and a half.
func seedRollupMix(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	start := time.Date(2026, 3, 2, 7, 40, 0, 0, time.UTC)
	for ins := range 3 {
		var batches []*store.Batch
		for site := range 12 {
			b := &store.Batch{SiteID: fmt.Sprintf("S%02d", site), Seq: uint64(ins + 1)}
			for pass := range 2 {
				for p := range 20 {
					// Inserts interleave in time: insert 2 goes back before insert 1.
					at := start.Add(time.Duration((2-ins)*3600+pass*1800+p*7+site) * time.Second)
					smp := &lifelinev1.Sample{PointId: fmt.Sprintf("P%02d", p), SourceTimeNs: at.UnixNano(),
						Value: &lifelinev1.Sample_Number{Number: float64(site*100+p) + float64(ins+pass)/8}}
					switch (p + site + ins) % 9 {
					case 0:
						smp.Status = 0x80000000
					case 1:
						smp.Value = &lifelinev1.Sample_Text{Text: "运行"}
					case 2:
						smp.Value = &lifelinev1.Sample_Flag{Flag: pass == 1}
					}
					b.Samples = append(b.Samples, smp)
				}
			}
			batches = append(batches, b)
		}
		mustSeed(t, s.Insert(ctx, batches))
	}
}
