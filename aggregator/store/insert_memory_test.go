package store_test

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

// Inserts side by side leave buffers behind on no more connections than
// Config.Inserts (2 by default): each connection keeps the encode and
// compress buffers of the largest block it sent, about 12 MB for a
// 100,000-row insert, and a pool of 16 kept as many.
func TestInsertBuffersBounded(t *testing.T) {
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
	if held > 32<<20 {
		t.Errorf("the connections hold %d MiB after the inserts, want at most 32 (2 connections' buffers)", held>>20)
	}
}

// An insert reuses its connection's buffers: before, each one allocated
// its encode and compress buffers afresh, about 800 bytes a row in all
// (900 under -race) where it is now about 500 (600): the rest is the
// driver's columns, which it builds anew for every insert. The first
// insert on a connection allocates the buffers (~925 bytes a row, 1,030
// under -race), and the bound is relative to it: the process's other
// allocations and sync.Pool's random drops under -race (which add ~120
// bytes a row to most inserts there) move both.
func TestInsertReusesBuffers(t *testing.T) {
	s := storetest.Open(t)
	ctx := context.Background()
	const perInsert, size = 50, 2000
	insert := func(round int) uint64 {
		batches := storetest.Batches("reuse", uint64(round*perInsert+1), perInsert, size)
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		before := m.TotalAlloc
		if err := s.Insert(ctx, batches); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&m)
		return (m.TotalAlloc - before) / (perInsert * size)
	}
	first := insert(0)
	perRow := uint64(math.MaxUint64)
	for round := 1; round < 6; round++ {
		perRow = min(perRow, insert(round))
	}
	ratio := float64(perRow) / float64(first)
	t.Logf("allocated per row: %d bytes, the first insert %d (%.2f)", perRow, first, ratio)
	if ratio > 0.75 {
		t.Errorf("an insert allocated %d bytes a row against the first one's %d (%.2f), want at most 0.75: buffers not reused", perRow, first, ratio)
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
