package alarm

import (
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// A refresh that began before a new site's points were read alone may
// not have them: installing it keeps what was learned. A refresh begun
// after the site was learned replaces it, as any other.
func TestInstallKeepsSitesLearnedSinceTheReadBegan(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	learned := &store.PointConfig{Kind: "level", H: new(80.0)}
	refreshed := &store.PointConfig{Kind: "level", H: new(50.0)}
	e := New(nil, DefaultOptions(), nil)
	e.install(configs{points: map[[2]string]*store.PointConfig{{"S1", "P1"}: {}}, known: map[string]bool{"S1": true}, started: t0, all: true})
	e.points[[2]string{"S2", "P1"}] = learned
	e.known["S2"] = true
	m := &machine{}
	if p := e.configOf([2]string{"S2", "P1"}, m); *p.H != 80 {
		t.Fatalf("S2/P1's H %v, want 80", *p.H)
	}
	e.learned["S2"] = t0.Add(2 * time.Second)

	// Began before S2 was learned: no S2 in it.
	e.install(configs{points: map[[2]string]*store.PointConfig{{"S1", "P1"}: {}}, known: map[string]bool{"S1": true}, started: t0.Add(time.Second), all: true})
	if e.points[[2]string{"S2", "P1"}] != learned || !e.known["S2"] {
		t.Fatalf("S2's points lost to a refresh that began before they were read")
	}
	// Began after: it is the newer read, whatever it holds.
	e.install(configs{points: map[[2]string]*store.PointConfig{{"S2", "P1"}: refreshed}, known: map[string]bool{"S2": true}, started: t0.Add(3 * time.Second), all: true})
	if e.points[[2]string{"S2", "P1"}] != refreshed || e.points[[2]string{"S1", "P1"}] != nil {
		t.Errorf("a refresh begun after S2 was learned did not replace every configuration")
	}
	// A point's state remembers its configuration only until they change.
	if p := e.configOf([2]string{"S2", "P1"}, m); *p.H != 50 || p.SiteID != "S2" || p.PointID != "P1" {
		t.Errorf("S2/P1 after the refresh: %s/%s H %v, want S2/P1 H 50", p.SiteID, p.PointID, *p.H)
	}
	if len(e.learned) != 0 {
		t.Errorf("learned sites kept after a newer refresh: %v", e.learned)
	}
	// A read of changed sites only is laid over the others, and the
	// states of the changed points follow.
	s3 := &machine{}
	e.states[[2]string{"S3", "P1"}] = s3
	if p := e.configOf([2]string{"S3", "P1"}, s3); p.H != nil {
		t.Fatalf("S3/P1 configured before it was: %+v", p)
	}
	changed := &store.PointConfig{Kind: "level", H: new(60.0)}
	e.install(configs{points: map[[2]string]*store.PointConfig{{"S3", "P1"}: changed}, known: map[string]bool{"S3": true}, started: t0.Add(4 * time.Second)})
	if e.points[[2]string{"S2", "P1"}] != refreshed || e.points[[2]string{"S3", "P1"}] != changed || !e.known["S2"] || !e.known["S3"] {
		t.Errorf("changed sites not laid over the others: %v", e.points)
	}
	if p := e.configOf([2]string{"S2", "P1"}, m); *p.H != 50 {
		t.Errorf("S2/P1 after S3 changed: H %v, want 50", *p.H)
	}
	if p := e.configOf([2]string{"S3", "P1"}, s3); p.H == nil || *p.H != 60 {
		t.Errorf("S3/P1 after its change: %+v, want H 60", p)
	}
}
