package registry_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/registry"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func TestInvalidRegistryNamesEveryProblem(t *testing.T) {
	_, err := registry.Load("../../testdata/aggregator/registry-invalid.yaml")
	if err == nil {
		t.Fatal("invalid registry accepted")
	}
	for _, want := range []string{
		"hazard_sources[0] (HS-01): level 5: want 1 (highest) to 4",
		`unit_type "tank": want tank_farm, warehouse or production_unit`,
		"out_of_service[0] (DEMO01/GT104): to 2026-03-01T00:00:00Z is not after from",
		"out_of_service[1] (DEMO01/GT105): reason is required",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestApplyRegistry(t *testing.T) {
	ctx := context.Background()
	f, err := registry.Load("../../testdata/aggregator/registry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	addr := chtest.Addr(t)
	cfg := store.DefaultConfig()
	cfg.Addr, cfg.Database = addr, chtest.Database(t, addr)
	s := store.New(cfg, nil)
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SaveCatalog(ctx, "DEMO01", "示范化工园区", "test", []*lifelinev1.Point{
		{Id: "T101.LT", Kind: "level"}, {Id: "GT104", Kind: "gas_combustible"}, {Id: "R201.BATCH", Kind: "status"},
	}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // applying twice changes nothing
		if err := f.Apply(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	var name, unitType string
	if err := chtest.Conn(t, cfg.Addr, cfg.Database).QueryRow(ctx, "SELECT e.name, h.unit_type FROM enterprises AS e FINAL ANY INNER JOIN (SELECT site_id, toString(unit_type) AS unit_type FROM hazard_sources FINAL WHERE code = 'HS-02') AS h USING site_id").Scan(&name, &unitType); err != nil {
		t.Fatal(err)
	}
	if name != "示范化工有限公司" || unitType != "production_unit" {
		t.Fatalf("enterprise %q, unit type %q", name, unitType)
	}
	pcs, err := s.PointConfigs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.PointConfig{}
	for _, p := range pcs {
		got[p.PointID] = p
	}
	if p := got["T101.LT"]; p.OnDelay != 5*time.Second || p.OffDelay != 10*time.Second || p.StaleAfter != 0 {
		t.Errorf("T101.LT timing: %+v", p)
	}
	if p := got["R201.BATCH"]; p.StaleAfter != -time.Second {
		t.Errorf("R201.BATCH stale_after: %v", p.StaleAfter)
	}
	p := got["GT104"]
	from := time.Date(2026, 2, 28, 16, 0, 0, 0, time.UTC)
	if len(p.OutOfServicePeriods) != 1 || p.OutOfServicePeriods[0].From != from.UnixNano() ||
		!p.OutOfServicePeriods[0].Contains(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()) {
		t.Errorf("GT104 out of service: %+v", p.OutOfServicePeriods)
	}
}

// A park is matched in dashboard queries and scopes what a park's team
// sees: the registry refuses one that could break out of a quoted string.
func TestRegistryRefusesQuotedPark(t *testing.T) {
	f := &registry.File{Enterprises: []registry.Enterprise{
		{Site: "S1", Name: "一厂", Park: "化工园区"},
		{Site: "S2", Name: "二厂", Park: "P' OR park != '"},
	}}
	err := f.Validate()
	if err == nil || !strings.Contains(err.Error(), "enterprises[1] (S2): park") || strings.Contains(err.Error(), "enterprises[0]") {
		t.Fatalf("got %v, want only enterprises[1] refused", err)
	}
}
