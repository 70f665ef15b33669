package writer_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func TestWriterWithStore(t *testing.T) {
	s := storetest.Open(t)
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
			for _, b := range storetest.Batches(fmt.Sprintf("site-%d", i), 1, perSite, size) {
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
