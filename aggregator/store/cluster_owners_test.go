//go:build cluster

package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chcluster"
)

type ownersReader interface {
	SiteOwners(context.Context, []string) (map[string]store.SiteOwner, error)
}

// ownerOf returns "owner@epoch" of site as r reads it.
func ownerOf(ctx context.Context, t *testing.T, r ownersReader, site string) string {
	t.Helper()
	got, err := r.SiteOwners(ctx, []string{site})
	if err != nil {
		t.Fatalf("read owner of %s: %v", site, err)
	}
	o := got[site]
	return fmt.Sprintf("%s@%d", o.Owner, o.Epoch)
}

// TestClusterOwnersReadYourWrites: two aggregators' stores on the two
// replicas of one shard claim one site in turn; right after each claim the
// other store sees it (owner and epoch), and its next claim takes the next
// epoch. Read through the Distributed table, the other replica often lags.
// With one replica stopped the survivor still claims and reads.
func TestClusterOwnersReadYourWrites(t *testing.T) {
	c := chcluster.Start(t, chcluster.Layout{Shards: 1, Replicas: 2})
	a, b := openCluster(t, c, 0), openCluster(t, c, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	names := map[int]string{0: "agg-a", 1: "agg-b"}
	stores := [2]*store.Store{a, b}
	for _, site := range []string{"site-1", "site-2", "site-3"} {
		var last uint64
		for i := range 20 {
			me, other := i%2, 1-i%2
			epoch, err := stores[me].ClaimSite(ctx, site, names[me])
			if err != nil {
				t.Fatalf("%s claim %d: %v", site, i, err)
			}
			if epoch != last+1 {
				t.Fatalf("%s claim %d by %s: epoch %d, want %d", site, i, names[me], epoch, last+1)
			}
			last = epoch
			got := ownerOf(ctx, t, stores[other], site)
			if got != fmt.Sprintf("%s@%d", names[me], epoch) {
				t.Fatalf("%s claim %d: %s claimed epoch %d; %s reads %s", site, i, names[me], epoch, names[other], got)
			}
		}
	}
	// One replica down: the other keeps claiming and reading.
	if err := c.Nodes[1].Stop(); err != nil {
		t.Fatal(err)
	}
	epoch, err := a.ClaimSite(ctx, "site-1", "agg-a")
	if err != nil || epoch != 21 {
		t.Fatalf("claim with a replica down: epoch %d, %v; want 21", epoch, err)
	}
	if got := ownerOf(ctx, t, a, "site-1"); got != "agg-a@21" {
		t.Fatalf("owner with a replica down: %s", got)
	}
}
