package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// gatedBook counts the grouped inserts into a real store and holds the
// first until released, so that saves pile up behind it.
type gatedBook struct {
	*store.Store
	inserts atomic.Int32
	gate    chan struct{}
}

func (b *gatedBook) SaveCatalogs(ctx context.Context, cats []store.Catalog) error {
	if b.inserts.Add(1) == 1 {
		<-b.gate
	}
	return b.Store.SaveCatalogs(ctx, cats)
}

// Catalogs saved while another insert runs go in together: 40 sites
// connecting at once make 2 inserts, not 40, and every catalog is stored.
func TestCatalogSavesAreGrouped(t *testing.T) {
	addr := chtest.Addr(t)
	cfg := store.DefaultConfig()
	cfg.Addr, cfg.Database = addr, chtest.Database(t, addr)
	st := store.New(cfg, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.Open(ctx); err != nil {
		t.Fatalf("open store: %v", err)
	}
	defer st.Close()
	book := &gatedBook{Store: st, gate: make(chan struct{})}
	g := newCatalogGroup(book)

	const sites = 40
	errs := make(chan error, sites)
	var wg sync.WaitGroup
	first := make(chan struct{})
	wg.Go(func() {
		close(first)
		_, err := g.Do(ctx, store.Catalog{SiteID: "G00", Park: "P", AgentVersion: "test", Points: []*lifelinev1.Point{{Id: "A", Kind: "level"}}})
		errs <- err
	})
	<-first
	for book.inserts.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	for i := 1; i < sites; i++ {
		wg.Go(func() {
			_, err := g.Do(ctx, store.Catalog{SiteID: fmt.Sprintf("G%02d", i), Park: "P", AgentVersion: "test",
				Points: []*lifelinev1.Point{{Id: "A", Kind: "level"}, {Id: "B", Kind: "level"}}})
			errs <- err
		})
	}
	for queued := 0; queued < sites-1; {
		queued = g.Queued()
		time.Sleep(time.Millisecond)
	}
	close(book.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := book.inserts.Load(); n != 2 {
		t.Errorf("%d grouped inserts for %d sites, want 2", n, sites)
	}
	var nSites, nPoints uint64
	conn := chtest.Conn(t, cfg.Addr, cfg.Database)
	if err := conn.QueryRow(ctx, "SELECT count() FROM sites FINAL").Scan(&nSites); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM points FINAL").Scan(&nPoints); err != nil {
		t.Fatal(err)
	}
	if nSites != sites || nPoints != 1+2*(sites-1) {
		t.Fatalf("stored %d sites and %d points, want %d and %d", nSites, nPoints, sites, 1+2*(sites-1))
	}
}
