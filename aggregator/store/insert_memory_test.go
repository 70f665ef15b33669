package store_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

// Inserts side by side leave no buffers behind on the pool's connections:
// each kept the encode and compress buffers of the largest block it sent,
// tens of MB for a 100,000-row insert, on every idle connection.
func TestInsertBuffersFreed(t *testing.T) {
	s := storetest.Open(t)
	ctx := context.Background()
	const inserts, perInsert, size = 4, 50, 2000 // 100,000 rows each
	insertAll := func(round int) {
		var wg sync.WaitGroup
		errs := make(chan error, inserts)
		for i := range inserts {
			first := uint64((round*inserts+i)*perInsert + 1)
			batches := storetest.Batches(fmt.Sprintf("mem%d", i), first, perInsert, size)
			wg.Go(func() { errs <- s.Insert(ctx, batches) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	before := heapAlloc()
	insertAll(0)
	insertAll(1)
	held := heapAlloc() - before
	t.Logf("heap after %d inserts side by side: %+d KiB", inserts, held>>10)
	if held > 8<<20 {
		t.Errorf("the pool's connections hold %d MiB after the inserts, want at most 8", held>>20)
	}
}

// heapAlloc is the heap in use that the collector cannot take back; two
// cycles empty the sync.Pool of column slices Insert reuses, which it can.
func heapAlloc() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
