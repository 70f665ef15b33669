package alarm

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// configStore answers PointConfigs as ClickHouse does: every string and
// every limit of every row freshly allocated, on every call.
type configStore struct {
	Store
	sites, perSite int
}

func (c configStore) PointConfigs(context.Context) ([]store.PointConfig, error) {
	out := make([]store.PointConfig, 0, c.sites*c.perSite)
	num := func(v float64) *float64 { return &v }
	for s := range c.sites {
		for i := range c.perSite {
			out = append(out, store.PointConfig{
				SiteID: fmt.Sprintf("site-%03d", s), PointID: fmt.Sprintf("T%05d.PV", i),
				Kind: strings.Clone("temperature"), Unit: strings.Clone("°C"),
				HazardCode: strings.Clone("HZ-R1"), Equipment: fmt.Sprintf("R-%d", i%20),
				H: num(80), HH: num(90), L: num(10), LL: num(5), Deadband: 1,
			})
		}
	}
	return out, nil
}

func (configStore) SaveAlarmStates(context.Context, []store.AlarmState) error { return nil }
func (configStore) SaveAlarmEvents(context.Context, []store.AlarmEvent) error { return nil }

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkPointMemory measures what the evaluator keeps per point: 10
// sites of 1,000 points, their configurations read twice (a refresh),
// one sample of each point evaluated and checkpointed. bytes/point is the
// live heap it holds afterwards, over 10,000 points.
func BenchmarkPointMemory(b *testing.B) {
	const sites, perSite = 10, 1000
	st := configStore{sites: sites, perSite: perSite}
	var batches []*store.Batch
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for s := range sites {
		batch := &store.Batch{SiteID: fmt.Sprintf("site-%03d", s), Seq: 1}
		for i := range perSite {
			batch.Samples = append(batch.Samples, &lifelinev1.Sample{PointId: fmt.Sprintf("T%05d.PV", i),
				SourceTimeNs: ts, Value: &lifelinev1.Sample_Number{Number: 50}})
		}
		batches = append(batches, batch)
	}
	ctx := context.Background()
	var held float64
	for b.Loop() {
		before := heapInUse()
		e := New(st, DefaultOptions(), nil)
		for range 2 {
			if _, err := e.refresh(ctx); err != nil {
				b.Fatal(err)
			}
		}
		for _, batch := range batches {
			e.evaluateBatch(ctx, batch, true)
		}
		if err := e.checkpoint(ctx); err != nil {
			b.Fatal(err)
		}
		held = float64(heapInUse()) - float64(before)
		runtime.KeepAlive(e)
	}
	b.ReportMetric(held/(sites*perSite), "bytes/point")
}
