package store_test

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// The points of some sites read alone are exactly what a read of every
// point says of them: registry settings and 停用 periods included, no
// other site's, Chinese ids intact.
func TestSitesPointConfigsMatchTheFullRead(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	h := 10.0
	for _, site := range []string{"S1", "S2", "园区-3"} {
		points := []*lifelinev1.Point{{Id: "T1", Limits: &lifelinev1.Limits{High: &h}}, {Id: "液位-2"}}
		if err := s.SaveCatalog(ctx, site, "P", "test", points); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveRegistry(ctx, nil, nil, nil, []store.PointSettings{
		{SiteID: "园区-3", PointID: "T1", OnDelay: 7 * time.Second, StaleAfter: time.Minute},
		{SiteID: "S2", PointID: "T1", OnDelay: 9 * time.Second},
	}); err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	if err := s.SaveOutOfService(ctx, []store.OutOfServicePeriod{
		{SiteID: "园区-3", PointID: "液位-2", From: from, To: from.Add(time.Hour), Reason: "检修"},
		{SiteID: "S2", PointID: "液位-2", From: from},
	}); err != nil {
		t.Fatal(err)
	}
	all, err := s.PointConfigs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	some, err := s.SitesPointConfigs(ctx, []string{"S1", "园区-3", "no-such-site"})
	if err != nil {
		t.Fatal(err)
	}
	byKey := func(a, b store.PointConfig) int {
		return cmp.Or(cmp.Compare(a.SiteID, b.SiteID), cmp.Compare(a.PointID, b.PointID))
	}
	slices.SortFunc(all, byKey)
	slices.SortFunc(some, byKey)
	want := slices.DeleteFunc(slices.Clone(all), func(p store.PointConfig) bool { return p.SiteID == "S2" })
	if len(some) != 4 || !slices.EqualFunc(some, want, samePointConfig) {
		t.Errorf("points of S1 and 园区-3:\n%+v\nwant, as the full read has them:\n%+v", some, want)
	}
	if p := some[3]; p.SiteID != "园区-3" || p.PointID != "液位-2" || len(p.OutOfServicePeriods) != 1 {
		t.Errorf("园区-3/液位-2 read as %+v, want its 停用 period", p)
	}
	if p := some[2]; p.OnDelay != 7*time.Second || p.StaleAfter != time.Minute {
		t.Errorf("园区-3/T1 read as %+v, want its registry delays", p)
	}
	none, err := s.SitesPointConfigs(ctx, []string{"no-such-site"})
	if err != nil || len(none) != 0 {
		t.Errorf("points of an unknown site: %v, %v; want none", none, err)
	}
}

func samePointConfig(a, b store.PointConfig) bool {
	eq := func(x, y *float64) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	return a.SiteID == b.SiteID && a.PointID == b.PointID && a.OnDelay == b.OnDelay && a.OffDelay == b.OffDelay &&
		a.StaleAfter == b.StaleAfter && eq(a.H, b.H) && slices.Equal(a.OutOfServicePeriods, b.OutOfServicePeriods)
}

// A site is changed when any of its points' list entry, registry setting
// or 停用 period was written since the time asked; rows written before it
// change nothing.
func TestChangedSites(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	// Written an hour ago: not changed.
	for _, q := range []string{
		"INSERT INTO points (site_id, point_id, deadband, updated_at) SELECT 'OLD', 'T1', 0, now() - 3600",
		"INSERT INTO point_settings (site_id, point_id, on_delay_ms, off_delay_ms, stale_after_ms, updated_ns) SELECT 'OLD', 'T1', 1, 1, 1, toUInt64(now() - 3600) * 1000000000",
		"INSERT INTO point_out_of_service (site_id, point_id, from_time, to_time, reason, set_by, deleted, updated_ns) SELECT 'OLD', 'T1', now(), now(), '', '', 0, toUInt64(now() - 3600) * 1000000000",
	} {
		if err := s.Conn().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	since := time.Now().Add(-time.Minute)
	if err := s.SaveCatalog(ctx, "装置-1", "P", "test", []*lifelinev1.Point{{Id: "T1"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRegistry(ctx, nil, nil, nil, []store.PointSettings{{SiteID: "S2", PointID: "T1", OnDelay: time.Second}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveOutOfService(ctx, []store.OutOfServicePeriod{{SiteID: "S3", PointID: "T1", From: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ChangedSites(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"S2", "S3", "装置-1"}; !slices.Equal(slices.Sorted(maps.Keys(got)), want) {
		t.Errorf("changed sites %v, want %v", got, want)
	}
	if got, err := s.ChangedSites(ctx, time.Now().Add(time.Hour)); err != nil || len(got) != 0 {
		t.Errorf("sites changed in the future: %v, %v", got, err)
	}

	// A site's fingerprint stays while nothing is written for it, and
	// changes with each row written: its point list, a setting, a 停用.
	again, err := s.ChangedSites(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, again) {
		t.Errorf("fingerprints changed with nothing written: %v, then %v", got, again)
	}
	writes := map[string]func() error{
		"装置-1": func() error {
			return s.SaveCatalog(ctx, "装置-1", "P", "test", []*lifelinev1.Point{{Id: "T1"}, {Id: "T2"}})
		},
		"S2": func() error {
			return s.SaveRegistry(ctx, nil, nil, nil, []store.PointSettings{{SiteID: "S2", PointID: "T1", OnDelay: 2 * time.Second}})
		},
		"S3": func() error {
			return s.SaveOutOfService(ctx, []store.OutOfServicePeriod{{SiteID: "S3", PointID: "T1", From: time.Now().Add(time.Hour)}})
		},
	}
	for site, write := range writes {
		if err := write(); err != nil {
			t.Fatal(err)
		}
		now, err := s.ChangedSites(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		for other, fp := range again {
			if changed := now[other] != fp; changed != (other == site) {
				t.Errorf("after a write for %s: %s's fingerprint changed: %v", site, other, changed)
			}
		}
		again = now
	}
}
