package alarm

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// BenchmarkEvaluateBatch measures evaluation without ClickHouse (building
// each batch included): 1,000
// points with H/HH limits, batches of 10,000 samples, a tenth beyond H.
func BenchmarkEvaluateBatch(b *testing.B) {
	e := New(nil, DefaultOptions(), nil)
	h, hh := 80.0, 90.0
	for i := range 1000 {
		id := fmt.Sprintf("P%04d", i)
		e.points[[2]string{"S", id}] = point{cfg: &store.PointConfig{SiteID: "S", PointID: id, H: &h, HH: &hh, Deadband: 1}}
	}
	e.known = map[string]bool{"S": true}
	ts := time.Now().UnixNano()
	b.ReportAllocs()
	for n := 0; b.Loop(); n++ {
		batch := &store.Batch{SiteID: "S", Seq: uint64(n + 1)}
		for i := range 10_000 {
			v := 50.0
			if i%10 == 0 && n%2 == 0 {
				v = 85
			}
			batch.Samples = append(batch.Samples, &lifelinev1.Sample{PointId: fmt.Sprintf("P%04d", i%1000),
				SourceTimeNs: ts + int64(n*10+i/1000), Value: &lifelinev1.Sample_Number{Number: v}})
		}
		e.evaluateBatch(context.Background(), batch, true)
		e.outbox = e.outbox[:0]
	}
	b.ReportMetric(float64(b.N*10_000)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkPointTimers measures one tick's pass over every point
// (delays, staleness) at a large park's 200,000 points, none due.
func BenchmarkPointTimers(b *testing.B) {
	e := New(nil, DefaultOptions(), nil)
	h := 80.0
	now := time.Now().UnixNano()
	for s := range 200 {
		site := fmt.Sprintf("site-%03d", s)
		for i := range 1000 {
			key := [2]string{site, fmt.Sprintf("P%04d", i)}
			e.points[key] = point{cfg: &store.PointConfig{H: &h, Deadband: 1}, m: &machine{LastNs: now, LastValue: 50}}
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		e.pointTimers(now)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(e.points)), "ns/point")
}

// BenchmarkCheckpointForEvents measures the checkpoint a tick with one
// event makes, at 200,000 points of which 5 % stand in alarm (their state
// changes at every sample, so every checkpoint carries them): of the
// event's site only, as ticks do, against every site.
func BenchmarkCheckpointForEvents(b *testing.B) {
	for _, whole := range []bool{false, true} {
		b.Run(map[bool]string{false: "event's site", true: "every site"}[whole], func(b *testing.B) {
			e := New(configStore{}, DefaultOptions(), nil)
			h := 80.0
			now := time.Now().UnixNano()
			var standing []*machine
			for s := range 200 {
				site := fmt.Sprintf("site-%03d", s)
				e.sites[site] = &siteState{}
				for i := range 1000 {
					m := &machine{LastNs: now, LastValue: 50}
					if i%20 == 0 {
						m.LastValue = 85
						m.Conds = map[string]*cond{H: {Active: true, RaisedNs: now, Value: 85, Limit: h, Peak: 85}}
						standing = append(standing, m)
					}
					e.points[[2]string{site, fmt.Sprintf("P%04d", i)}] = point{cfg: &store.PointConfig{H: &h}, m: m}
				}
			}
			ctx := context.Background()
			b.ReportAllocs()
			for n := 0; b.Loop(); n++ {
				for _, m := range standing {
					m.LastNs++
					m.touch(true)
				}
				e.outbox = append(e.outbox, store.AlarmEvent{SiteID: "site-000", PointID: "P0001", Condition: H, Active: true, RaisedNs: now + int64(n)})
				var err error
				if whole {
					err = e.checkpoint(ctx)
				} else {
					err = e.checkpointEvents(ctx)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/tick")
		})
	}
}
