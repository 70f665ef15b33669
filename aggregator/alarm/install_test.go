package alarm

import (
	"context"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// A refresh that began before a new site's points were read alone may
// not have them: installing it keeps what was learned. A refresh begun
// after the site was learned replaces it, as any other.
func TestInstallKeepsSitesLearnedSinceTheReadBegan(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	learned := &store.PointConfig{Kind: "level", H: new(80.0)}
	refreshed := &store.PointConfig{Kind: "level", H: new(50.0)}
	e := New(nil, DefaultOptions(), nil)
	cfg := func(site, pt string) *store.PointConfig { return e.points[[2]string{site, pt}].cfg }
	h := func(site, pt string) any {
		if p := configOf([2]string{site, pt}, cfg(site, pt)); p.H != nil {
			return *p.H
		}
		return nil
	}
	e.install(configs{points: map[[2]string]*store.PointConfig{{"S1", "P1"}: {}}, known: map[string]bool{"S1": true}, started: t0, all: true})
	e.overlay(map[[2]string]*store.PointConfig{{"S2", "P1"}: learned})
	e.known["S2"] = true
	e.learned["S2"] = t0.Add(2 * time.Second)

	// Began before S2 was learned: no S2 in it.
	e.install(configs{points: map[[2]string]*store.PointConfig{{"S1", "P1"}: {}}, known: map[string]bool{"S1": true}, started: t0.Add(time.Second), all: true})
	if cfg("S2", "P1") != learned || !e.known["S2"] {
		t.Fatalf("S2's points lost to a refresh that began before they were read")
	}
	// Began after: it is the newer read, whatever it holds.
	e.install(configs{points: map[[2]string]*store.PointConfig{{"S2", "P1"}: refreshed}, known: map[string]bool{"S2": true}, started: t0.Add(3 * time.Second), all: true})
	if cfg("S2", "P1") != refreshed || h("S2", "P1") != 50.0 {
		t.Errorf("a refresh begun after S2 was learned did not replace every configuration: H %v", h("S2", "P1"))
	}
	if _, ok := e.points[[2]string{"S1", "P1"}]; ok {
		t.Errorf("S1/P1, configured no more and never evaluated, still held: %+v", e.points[[2]string{"S1", "P1"}])
	}
	if len(e.learned) != 0 {
		t.Errorf("learned sites kept after a newer refresh: %v", e.learned)
	}
	// A read of changed sites only is laid over the others.
	s3 := &machine{LastNs: 1}
	e.points[[2]string{"S3", "P1"}] = point{m: s3}
	if h("S3", "P1") != nil {
		t.Fatalf("S3/P1 configured before it was")
	}
	changed := &store.PointConfig{Kind: "level", H: new(60.0)}
	e.install(configs{points: map[[2]string]*store.PointConfig{{"S3", "P1"}: changed}, known: map[string]bool{"S3": true}, started: t0.Add(4 * time.Second)})
	if cfg("S2", "P1") != refreshed || cfg("S3", "P1") != changed || !e.known["S2"] || !e.known["S3"] {
		t.Errorf("changed sites not laid over the others: %v", e.points)
	}
	if e.points[[2]string{"S3", "P1"}].m != s3 || h("S3", "P1") != 60.0 {
		t.Errorf("S3/P1 after its change: state %p (want %p), H %v, want 60", e.points[[2]string{"S3", "P1"}].m, s3, h("S3", "P1"))
	}
	// A read of every point without S3 leaves its state, unconfigured.
	e.install(configs{points: map[[2]string]*store.PointConfig{{"S2", "P1"}: refreshed}, known: map[string]bool{"S2": true}, started: t0.Add(5 * time.Second), all: true})
	if pt := e.points[[2]string{"S3", "P1"}]; pt.m != s3 || pt.cfg != nil {
		t.Errorf("S3/P1 after a read without it: %+v; want its state, no configuration", pt)
	}
}

// Forgetting a site another aggregator took over drops its points' states
// and keeps their configurations, which are the park's, not the owner's.
func TestForgetKeepsConfigurations(t *testing.T) {
	e := New(nil, DefaultOptions(), nil)
	c := &store.PointConfig{H: new(80.0)}
	e.install(configs{points: map[[2]string]*store.PointConfig{{"S1", "P1"}: c, {"S2", "P1"}: c}, known: map[string]bool{"S1": true, "S2": true}, all: true})
	for _, key := range [][2]string{{"S1", "P1"}, {"S1", "P2"}, {"S2", "P1"}} {
		pt := e.points[key]
		pt.m = &machine{LastNs: 1}
		e.points[key] = pt
	}
	e.forget("S1")
	if pt := e.points[[2]string{"S1", "P1"}]; pt.m != nil || pt.cfg != c {
		t.Errorf("S1/P1 after forget: %+v; want its configuration alone", pt)
	}
	if _, ok := e.points[[2]string{"S1", "P2"}]; ok {
		t.Errorf("S1/P2, evaluated but not configured, kept after forget")
	}
	if pt := e.points[[2]string{"S2", "P1"}]; pt.m == nil || pt.cfg != c {
		t.Errorf("S2/P1 touched by forgetting S1: %+v", pt)
	}
}

// savedStates records what a checkpoint writes.
type savedStates struct {
	Store
	rows   []store.AlarmState
	events []store.AlarmEvent
}

func (s *savedStates) SaveAlarmStates(_ context.Context, rows []store.AlarmState) error {
	s.rows = append(s.rows, rows...)
	return nil
}

func (s *savedStates) SaveAlarmEvents(_ context.Context, events []store.AlarmEvent) error {
	s.events = append(s.events, events...)
	return nil
}

// Points configured but not yet evaluated share the map with evaluated
// ones: a tick's pass and a checkpoint pass over them and leave them be,
// while the evaluated point beside them raises, goes stale and is saved.
func TestConfiguredPointsWithoutStateLeftAlone(t *testing.T) {
	ctx := context.Background()
	st := &savedStates{}
	e := New(st, DefaultOptions(), nil)
	c := &store.PointConfig{H: new(80.0), StaleAfter: time.Minute}
	e.install(configs{points: map[[2]string]*store.PointConfig{{"S1", "P1"}: c, {"S1", "P2"}: c, {"S2", "P1"}: c},
		known: map[string]bool{"S1": true, "S2": true}, all: true})
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).UnixNano()
	e.evaluateBatch(ctx, &store.Batch{SiteID: "S1", Seq: 1, Samples: []*lifelinev1.Sample{
		{PointId: "P1", SourceTimeNs: t0, Value: &lifelinev1.Sample_Number{Number: 85}}}}, true)
	e.pointTimers(t0 + int64(time.Hour))
	if err := e.checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	raised := map[string]bool{}
	for _, ev := range st.events {
		if ev.Active {
			raised[ev.SiteID+"/"+ev.PointID+" "+ev.Condition] = true
		}
	}
	if !raised["S1/P1 H"] || !raised["S1/P1 stale"] || len(raised) != 2 {
		t.Errorf("raised %v; want S1/P1's H and stale alone", raised)
	}
	saved := map[string]bool{}
	for _, r := range st.rows {
		saved[r.SiteID+"/"+r.PointID] = true
	}
	if !saved["S1/P1"] || !saved["S1/"] || saved["S1/P2"] || saved["S2/P1"] {
		t.Errorf("checkpointed %v; want S1 and S1/P1, not the points never evaluated", saved)
	}
	for _, key := range [][2]string{{"S1", "P2"}, {"S2", "P1"}} {
		if pt := e.points[key]; pt.m != nil || pt.cfg != c {
			t.Errorf("%v after the tick and checkpoint: %+v", key, pt)
		}
	}
}
