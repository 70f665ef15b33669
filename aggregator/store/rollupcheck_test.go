package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Rollups that disagree with their raw rows are found and rebuilt: a batch
// stored twice (the views counted it twice; samples FINAL once) and a crash
// between the samples part and a view's part (simulated by detaching the
// minute view for one insert).
func TestRollupDriftFoundAndRepaired(t *testing.T) {
	s := storetest.Open(t)
	ctx := context.Background()
	hour := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Hour)
	batch := func(seq uint64, point string, from time.Time) *store.Batch {
		b := &store.Batch{SiteID: "RD1", Seq: seq}
		for i := range 120 {
			at := from.Add(time.Duration(i) * time.Second)
			b.Samples = append(b.Samples, &lifelinev1.Sample{PointId: point, SourceTimeNs: at.UnixNano(),
				Value: &lifelinev1.Sample_Number{Number: float64(i)}})
		}
		return b
	}
	if err := s.Insert(ctx, []*store.Batch{batch(1, "T101.LT", hour), batch(2, "T102.LT", hour)}); err != nil {
		t.Fatal(err)
	}
	if d, err := s.RollupDrift(ctx, hour, hour.Add(time.Hour), ""); err != nil || len(d) != 0 {
		t.Fatalf("drift on clean data: %v, %v", d, err)
	}

	// T101.LT stored twice: a second INSERT of the same rows outside the
	// ledger's check, as a reconnect race once did.
	conn := s.Conn()
	if err := conn.Exec(ctx, "INSERT INTO samples SELECT * FROM samples WHERE site_id = 'RD1' AND point_id = 'T101.LT'"); err != nil {
		t.Fatal(err)
	}
	// T103.LT written while the minute view is missing.
	if err := conn.Exec(ctx, "DETACH TABLE "+store.ViewSamples1m); err != nil {
		t.Fatal(err)
	}
	if err := s.Insert(ctx, []*store.Batch{batch(3, "T103.LT", hour.Add(10*time.Minute))}); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "ATTACH TABLE "+store.ViewSamples1m); err != nil {
		t.Fatal(err)
	}

	drift, err := s.RollupDrift(ctx, hour.Add(5*time.Minute), hour.Add(30*time.Minute), "RD1")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, d := range drift {
		kinds[d.Table+"/"+d.PointID]++
		switch d.PointID {
		case "T101.LT":
			if d.Rollup != 2*d.Raw {
				t.Errorf("%+v: want the rollup at twice the raw count", d)
			}
		case "T103.LT":
			if d.Table != store.TableSamples1m || d.Rollup != 0 || d.Raw != 60 {
				t.Errorf("%+v: want a minute bucket missing 60 rows", d)
			}
		default:
			t.Errorf("%+v: T102.LT was stored once", d)
		}
	}
	want := map[string]int{"samples_1m/T101.LT": 2, "samples_1h/T101.LT": 1, "samples_1m/T103.LT": 2}
	if len(kinds) != len(want) {
		t.Fatalf("drift %v, want %v", kinds, want)
	}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("drift %s: %d buckets, want %d", k, kinds[k], n)
		}
	}

	if err := s.RepairRollups(ctx, drift); err != nil {
		t.Fatal(err)
	}
	if d, err := s.RollupDrift(ctx, hour, hour.Add(time.Hour), ""); err != nil || len(d) != 0 {
		t.Fatalf("drift after repair: %v, %v", d, err)
	}
	var n uint64
	var sum float64
	if err := conn.QueryRow(ctx, "SELECT countMerge(samples), sumMerge(sum_value) FROM samples_1h WHERE site_id = 'RD1' AND point_id = 'T101.LT'").Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != 120 || sum != 119*120/2 {
		t.Errorf("T101.LT hour after repair: %d samples, sum %v; want 120, %d", n, sum, 119*120/2)
	}
}
