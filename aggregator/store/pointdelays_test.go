package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// A point's alarm delays come from the agent's point list: unset leaves
// the default (or a registry setting), 0 turns the default off. A points
// table made before the delays is migrated.
func TestPointListDelays(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	if err := s.Conn().Exec(ctx, "ALTER TABLE points DROP COLUMN on_delay_ms"); err != nil {
		t.Fatal(err)
	}
	if err := s.Conn().Exec(ctx, "ALTER TABLE points DROP COLUMN off_delay_ms"); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate a points table without delays: %v", err)
	}
	ms := func(v int64) *int64 { return &v }
	h := 10.0
	points := []*lifelinev1.Point{
		{Id: "LIST", Limits: &lifelinev1.Limits{High: &h, OnDelayMs: ms(3000), OffDelayMs: ms(0)}},
		{Id: "REG", Limits: &lifelinev1.Limits{High: &h}},
		{Id: "BOTH", Limits: &lifelinev1.Limits{High: &h, OnDelayMs: ms(5000)}},
	}
	if err := s.SaveCatalog(ctx, "S1", "P", "test", points); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRegistry(ctx, nil, nil, nil, []store.PointSettings{
		{SiteID: "S1", PointID: "REG", OnDelay: 7 * time.Second, OffDelay: 2 * time.Second},
		{SiteID: "S1", PointID: "BOTH", OnDelay: 9 * time.Second, OffDelay: 4 * time.Second},
	}); err != nil {
		t.Fatal(err)
	}
	pcs, err := s.PointConfigs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]time.Duration{
		"LIST": {3 * time.Second, -time.Millisecond},
		"REG":  {7 * time.Second, 2 * time.Second},
		"BOTH": {5 * time.Second, 4 * time.Second},
	}
	for _, p := range pcs {
		if got := [2]time.Duration{p.OnDelay, p.OffDelay}; got != want[p.PointID] {
			t.Errorf("%s: on/off delay %v, want %v", p.PointID, got, want[p.PointID])
		}
	}
	if len(pcs) != len(want) {
		t.Fatalf("%d point configurations, want %d", len(pcs), len(want))
	}
}
