// Package storetest gives tests outside the store an open Store on a fresh
// database of the test ClickHouse server, and plant-like batches to fill it.
package storetest

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Open opens a Store with the schema on a fresh database of chtest's
// server; it is closed when the test ends.
func Open(t testing.TB) *store.Store {
	t.Helper()
	addr := chtest.Addr(t)
	cfg := store.DefaultConfig()
	cfg.Addr = addr
	cfg.Database = chtest.Database(t, addr)
	s := store.New(cfg, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

// Batches makes n batches of size samples over 200 points of site,
// numbered from firstSeq, mixing numbers, flags and text the way a plant
// does.
func Batches(site string, firstSeq uint64, n, size int) []*store.Batch {
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	points := make([]string, 200)
	for i := range points {
		points[i] = fmt.Sprintf("T%03d.LT", i)
	}
	out := make([]*store.Batch, n)
	k := 0
	for i := range out {
		b := &store.Batch{SiteID: site, Seq: firstSeq + uint64(i), Samples: make([]*lifelinev1.Sample, size)}
		for j := range b.Samples {
			ts := base + int64(k/len(points))*int64(time.Second) + int64(k%7)
			s := &lifelinev1.Sample{PointId: points[k%len(points)], SourceTimeNs: ts, ServerTimeNs: ts + 1e6, ReceiveTimeNs: ts + 3e6}
			switch k % 20 {
			case 0:
				s.Value = &lifelinev1.Sample_Flag{Flag: k%40 == 0}
			case 1:
				s.Value = &lifelinev1.Sample_Text{Text: "运行"}
			default:
				s.Value = &lifelinev1.Sample_Number{Number: float64(k%1000) / 10}
			}
			b.Samples[j] = s
			k++
		}
		out[i] = b
	}
	return out
}
