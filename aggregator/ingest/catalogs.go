package ingest

import (
	"context"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/groupcommit"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// catalogBook saves the catalogs of several sites at once; the store
// implements it.
type catalogBook interface {
	SaveCatalogs(ctx context.Context, cats []store.Catalog) error
}

// maxGroupPoints bounds the points of one grouped catalog insert.
const maxGroupPoints = 200_000

// catalogSaveTimeout bounds a grouped insert, which saves other streams'
// catalogs too and so does not end with the stream that runs it.
const catalogSaveTimeout = time.Minute

// newCatalogGroup groups the catalog saves of handshakes that arrive
// together into one insert per table, at most maxGroupPoints points each:
// each save made its own parts in ClickHouse, and the inserts queued
// behind one another slowed every agent's batches.
func newCatalogGroup(book catalogBook) *groupcommit.Group[store.Catalog, struct{}] {
	split := func(cats []store.Catalog) int {
		n, points := 0, 0
		for n < len(cats) && (n == 0 || points+len(cats[n].Points) <= maxGroupPoints) {
			points += len(cats[n].Points)
			n++
		}
		return n
	}
	return groupcommit.New(catalogSaveTimeout, split, func(ctx context.Context, cats []store.Catalog) []groupcommit.Outcome[struct{}] {
		outs := make([]groupcommit.Outcome[struct{}], len(cats))
		err := book.SaveCatalogs(ctx, cats)
		for i := range cats {
			if err != nil && len(cats) > 1 {
				// One catalog the server refuses must not fail the others.
				outs[i].Err = book.SaveCatalogs(ctx, cats[i:i+1])
				continue
			}
			outs[i].Err = err
		}
		return outs
	})
}
