package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
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

// catalogGroup turns the catalog saves of handshakes that arrive together
// (1,000 agents connecting after a restart or a network cut) into one
// insert per table: each save made its own parts in ClickHouse, and the
// inserts queued behind one another slowed every agent's batches. A save
// waits while another group is being inserted; whoever next takes the
// turn inserts everything queued by then.
type catalogGroup struct {
	book catalogBook
	turn chan struct{} // holds a token while a group is inserted

	mu     sync.Mutex
	queued []*catalogSave
}

type catalogSave struct {
	cat  store.Catalog
	done chan error // buffered: written once
}

func newCatalogGroup(book catalogBook) *catalogGroup {
	return &catalogGroup{book: book, turn: make(chan struct{}, 1)}
}

// save records one site's catalog, alone or with others queued beside it.
func (g *catalogGroup) save(ctx context.Context, site, park, version string, points []*lifelinev1.Point) error {
	req := &catalogSave{cat: store.Catalog{SiteID: site, Park: park, AgentVersion: version, Points: points},
		done: make(chan error, 1)}
	g.mu.Lock()
	g.queued = append(g.queued, req)
	g.mu.Unlock()
	for {
		select {
		case err := <-req.done:
			return err
		case <-ctx.Done():
			return ctx.Err()
		case g.turn <- struct{}{}:
			g.insertQueued(ctx)
			<-g.turn
			// req was queued before the turn was taken: it is settled now.
		}
	}
}

// insertQueued inserts what is queued, in groups of at most
// maxGroupPoints points, and settles each save with the outcome.
func (g *catalogGroup) insertQueued(ctx context.Context) {
	g.mu.Lock()
	queued := g.queued
	g.queued = nil
	g.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), catalogSaveTimeout)
	defer cancel()
	for len(queued) > 0 {
		n, points := 0, 0
		for n < len(queued) && (n == 0 || points+len(queued[n].cat.Points) <= maxGroupPoints) {
			points += len(queued[n].cat.Points)
			n++
		}
		cats := make([]store.Catalog, n)
		for i, r := range queued[:n] {
			cats[i] = r.cat
		}
		err := g.book.SaveCatalogs(ctx, cats)
		for i, r := range queued[:n] {
			if err != nil && n > 1 {
				// One catalog the server refuses must not fail the others.
				r.done <- g.book.SaveCatalogs(ctx, cats[i:i+1])
				continue
			}
			r.done <- err
		}
		queued = queued[n:]
	}
}
