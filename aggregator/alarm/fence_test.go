package alarm

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// heldSites is Owners over a map the test changes: the sites ClickHouse
// names this aggregator the owner of, and their epochs.
type heldSites map[string]uint64

func (h heldSites) Epoch(s string) (uint64, bool) { e, ok := h[s]; return e, ok }
func (h heldSites) Held() map[string]uint64       { return maps.Clone(h) }
func (h heldSites) Verify(_ context.Context, sites []string) (map[string]uint64, error) {
	out := map[string]uint64{}
	for _, s := range sites {
		if e, ok := h[s]; ok {
			out[s] = e
		}
	}
	return out, nil
}

// fencedEvaluator is an evaluator owning S1 under epoch 1, whose P1 has
// just raised H.
func fencedEvaluator(t *testing.T, st Store, held heldSites) *Evaluator {
	t.Helper()
	opts := DefaultOptions()
	opts.Owners = held
	e := New(st, opts, nil)
	e.install(configs{points: map[[2]string]*store.PointConfig{{"S1", "P1"}: {H: new(80.0)}},
		known: map[string]bool{"S1": true}, all: true})
	held["S1"] = 1
	e.adopted["S1"] = 1
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).UnixNano()
	e.evaluateBatch(context.Background(), &store.Batch{SiteID: "S1", Seq: 7, Samples: []*lifelinev1.Sample{
		{PointId: "P1", SourceTimeNs: t0, Value: &lifelinev1.Sample_Number{Number: 85}}}}, true)
	if len(e.outbox) != 1 {
		t.Fatalf("outbox %v, want the raise", e.outbox)
	}
	return e
}

// Another aggregator held S1 under epoch 2 and this one claimed it again
// under 3: what this one still holds from epoch 1 predates the other's
// evaluation and must not be written under 3, where it would win over the
// other's newer rows at the next adoption.
func TestFenceWritesNothingOfAnOlderTenure(t *testing.T) {
	w := &writes{}
	held := heldSites{}
	e := fencedEvaluator(t, w, held)
	held["S1"] = 3
	if err := e.checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(w.calls) != 0 {
		t.Errorf("wrote %v; want nothing", w.calls)
	}
	if _, ok := e.adopted["S1"]; ok || len(e.outbox) != 0 {
		t.Errorf("S1 still held (%v) with events %v", e.adopted, e.outbox)
	}
}

// takenDuringStates is a store whose state insert takes long enough for
// another aggregator to take S1 over.
type takenDuringStates struct {
	writes
	held heldSites
}

func (s *takenDuringStates) SaveAlarmStates(ctx context.Context, rows []store.AlarmState) error {
	delete(s.held, "S1")
	return s.writes.SaveAlarmStates(ctx, rows)
}

// The events are fenced on their own: a site taken over while the state
// was being written gets its events from the row just saved, through its
// new owner, not from the former owner under the old epoch.
func TestEventsFencedAfterTheStateWrite(t *testing.T) {
	held := heldSites{}
	s := &takenDuringStates{held: held}
	e := fencedEvaluator(t, s, held)
	if err := e.checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(s.calls) != 1 || s.calls[0] != "states" {
		t.Errorf("wrote %v; want the states alone", s.calls)
	}
	if _, ok := e.adopted["S1"]; ok || len(e.outbox) != 0 {
		t.Errorf("S1 still held (%v) with events %v", e.adopted, e.outbox)
	}
}
