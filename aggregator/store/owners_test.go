package store_test

import (
	"context"
	"maps"
	"sync"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

// Each claim takes the next epoch and the latest claimer owns the site.
// Aggregators claiming at once may each read back their own claim of one
// epoch (ClickHouse has no compare-and-set), but every later reader sees
// one owner, which is what the fence checks (epoch and owner).
func TestClaimSiteTakesTheNextEpoch(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	e1, err := s.ClaimSite(ctx, "S1", "agg-a")
	if err != nil || e1 != 1 {
		t.Fatalf("first claim: epoch %d, %v; want 1", e1, err)
	}
	e2, err := s.ClaimSite(ctx, "S1", "agg-b")
	if err != nil || e2 != 2 {
		t.Fatalf("second claim: epoch %d, %v; want 2", e2, err)
	}
	owners, err := s.SiteOwners(ctx, []string{"S1", "S2"})
	if err != nil {
		t.Fatal(err)
	}
	if o := owners["S1"]; o.Owner != "agg-b" || o.Epoch != 2 || len(owners) != 1 {
		t.Fatalf("owners %+v; want S1 owned by agg-b at epoch 2 and no S2", owners)
	}
	var wg sync.WaitGroup
	epochs := make([]uint64, 4)
	for i := range epochs {
		wg.Go(func() {
			e, err := s.ClaimSite(ctx, "S2", []string{"a", "b", "c", "d"}[i])
			if err != nil {
				t.Error(err)
			}
			epochs[i] = e
		})
	}
	wg.Wait()
	all, err := s.SiteOwners(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := all["S2"]
	won := false
	for i, e := range epochs {
		won = won || e == o.Epoch && []string{"a", "b", "c", "d"}[i] == o.Owner
	}
	if !won || o.Epoch != max(epochs[0], epochs[1], epochs[2], epochs[3]) {
		t.Errorf("S2 owner %+v; want a claimer of the highest epoch of %v", o, epochs)
	}
	again, err := s.SiteOwners(ctx, []string{"S2"})
	if err != nil || again["S2"] != o {
		t.Errorf("owner read again %+v, %v; want %+v", again["S2"], err, o)
	}
}

// The checkpoint row of the highest epoch wins, even when an older epoch's
// row was written later (a paused former owner resuming).
func TestAlarmStateOfTheHighestEpochWins(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	if err := s.SaveAlarmStates(ctx, []store.AlarmState{{SiteID: "S1", PointID: "P", State: "new", Epoch: 2}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveAlarmStates(ctx, []store.AlarmState{{SiteID: "S1", PointID: "P", State: "stale", Epoch: 1},
		{SiteID: "S2", PointID: "P", State: "other", Epoch: 1}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadSiteAlarmStates(ctx, "S1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].State != "new" || got[0].Epoch != 2 {
		t.Fatalf("state %+v; want the epoch-2 row", got)
	}
	if err := s.Conn().Exec(ctx, "ALTER TABLE alarm_state DROP COLUMN epoch"); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate an alarm_state without epochs: %v", err)
	}
	if all, err := s.LoadAlarmStates(ctx); err != nil || len(all) != 2 {
		t.Fatalf("after migration: %+v, %v", all, err)
	}
}

// Claiming many sites at once gives each the next epoch of its own, and
// every site's owner is the claimer afterwards.
func TestClaimSitesTakesEachSitesNextEpoch(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	if _, err := s.ClaimSite(ctx, "S2", "agg-b"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := s.ClaimSite(ctx, "S3", "agg-b"); err != nil {
			t.Fatal(err)
		}
	}
	won, err := s.ClaimSites(ctx, []string{"S3", "S1", "S2", "S1"}, "agg-a")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"S1": 1, "S2": 2, "S3": 3}
	if !maps.Equal(won, want) {
		t.Fatalf("claimed %v, want %v", won, want)
	}
	owners, err := s.SiteOwners(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for site, epoch := range want {
		if o := owners[site]; o.Owner != "agg-a" || o.Epoch != epoch {
			t.Errorf("%s owned by %+v, want agg-a at epoch %d", site, o, epoch)
		}
	}
}
