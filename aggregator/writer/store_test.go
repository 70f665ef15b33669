package writer_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// openStore opens a Store on a fresh database of the test server.
func openStore(t testing.TB) *store.Store {
	t.Helper()
	addr := chtest.Addr(t)
	cfg := store.DefaultConfig()
	cfg.Addr = addr
	cfg.Database = chtest.Database(t, addr)
	s := store.New(cfg, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// syntheticBatches makes n batches of size samples over 200 points per
// site, mixing numbers, flags and text the way a plant does.
func syntheticBatches(site string, firstSeq uint64, n, size int) []*store.Batch {
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

func TestWriterWithStore(t *testing.T) {
	s := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := writer.New(s, writer.Options{MaxRows: 5000, MaxDelay: 50 * time.Millisecond}, nil)
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(ctx) }()

	const sites, perSite, size = 4, 25, 300
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	for i := range sites {
		wg.Go(func() {
			for _, b := range syntheticBatches(fmt.Sprintf("site-%d", i), 1, perSite, size) {
				wg.Add(1)
				err := w.Submit(ctx, b, func(err error) {
					defer wg.Done()
					if err != nil {
						mu.Lock()
						failures = append(failures, err)
						mu.Unlock()
					}
				})
				if err != nil {
					wg.Done()
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	if len(failures) > 0 {
		t.Fatalf("%d batches failed, first: %v", len(failures), failures[0])
	}
	var n uint64
	if err := chtest.Conn(t, s.Config().Addr, s.Config().Database).QueryRow(context.Background(), "SELECT count() FROM samples FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != sites*perSite*size {
		t.Fatalf("count = %d, want %d", n, sites*perSite*size)
	}
	for i := range sites {
		got, err := s.Committed(context.Background(), store.Span{SiteID: fmt.Sprintf("site-%d", i), To: math.MaxUint64})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].GetFirst() != 1 || got[0].GetLast() != perSite {
			t.Fatalf("site-%d committed %v, want [1-%d]", i, got, perSite)
		}
	}
}
