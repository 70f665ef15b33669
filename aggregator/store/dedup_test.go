package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// One insert carrying a batch of each of many quiet sites, some already
// committed: exactly the committed ones are skipped.
func TestInsertSkipsCommittedBatchesOfManySites(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	ts := time.Now().Add(-time.Hour).UnixNano()
	batch := func(site int, seq uint64) *store.Batch {
		return &store.Batch{SiteID: fmt.Sprintf("Q%03d", site), BufferID: "b1", Seq: seq,
			Samples: []*lifelinev1.Sample{num("P1", ts+int64(seq), float64(seq))}}
	}
	const sites = 300
	var first, second []*store.Batch
	for i := range sites {
		first = append(first, batch(i, 1))
		second = append(second, batch(i, 2))
		if i%2 == 0 {
			second = append(second, batch(i, 1)) // re-sent: committed already
		}
	}
	if err := s.Insert(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := s.Insert(ctx, second); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM samples").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2*sites {
		t.Fatalf("%d samples stored, want %d: committed batches inserted again, or new ones skipped", n, 2*sites)
	}
}

// An insert of many small batches (a thousand small agents draining their
// backlogs) checks the ledger in parts: named in one query, 10,000
// batches made ClickHouse 18.16 refuse it ("AST is too big").
func TestInsertOfManySmallBatches(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	var batches []*store.Batch
	for i := range 1000 {
		batches = append(batches, storetest.Batches(fmt.Sprintf("SMALL_%04d", i), 1, 10, 10)...)
	}
	if err := s.Insert(ctx, batches); err != nil {
		t.Fatalf("insert of %d batches: %v", len(batches), err)
	}
	// Again: every batch is found in the ledger and skipped.
	if err := s.Insert(ctx, batches); err != nil {
		t.Fatalf("second insert of %d batches: %v", len(batches), err)
	}
	conn := chtest.Conn(t, s.Config().Addr, s.Config().Database)
	var rows uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM samples").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 100_000 {
		t.Errorf("%d rows in samples, want 100,000 (each batch once)", rows)
	}
}
