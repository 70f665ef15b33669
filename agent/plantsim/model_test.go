package plantsim

import (
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

func TestCatalog(t *testing.T) {
	cat := buildCatalog("urn:lifeline:plantsim", 3)
	ids := map[string]bool{}
	idents := map[string]bool{}
	types := map[ValueType]int{}
	for _, p := range cat {
		if err := config.ValidateID(p.ID); err != nil {
			t.Errorf("%s: %v", p.ID, err)
		}
		if err := config.ValidateNodeID(p.Node); err != nil {
			t.Errorf("%s: %v", p.ID, err)
		}
		if p.Node != "nsu=urn:lifeline:plantsim;s="+p.Identifier {
			t.Errorf("%s: node %s", p.ID, p.Node)
		}
		if ids[p.ID] || idents[p.Identifier] {
			t.Errorf("%s: duplicate ID or identifier %s", p.ID, p.Identifier)
		}
		ids[p.ID], idents[p.Identifier] = true, true
		if !slices.Contains(config.Kinds, p.Kind) {
			t.Errorf("%s: kind %q", p.ID, p.Kind)
		}
		if utf8.RuneCountInString(p.Name) == len(p.Name) || utf8.RuneCountInString(p.Description) == len(p.Description) {
			t.Errorf("%s: want Chinese name and description, got %q / %q", p.ID, p.Name, p.Description)
		}
		types[p.Type]++
		if p.Type == Double && p.Range == nil {
			t.Errorf("%s: number without a range", p.ID)
		}
	}
	if types[Bool] == 0 || types[String] == 0 || types[Double] == 0 {
		t.Errorf("value types %v: want numbers, booleans and strings", types)
	}
	if !ids["LOAD.P00003"] || ids["LOAD.P00004"] {
		t.Error("want exactly 3 load points")
	}
}

func TestVariableChangesAndTimestamps(t *testing.T) {
	cat := plantCatalog()
	num := &variable{spec: &cat[0]}
	now := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	var last time.Time
	for i, val := range []float64{1, 1, 1, 2} {
		if !num.set(val, now) {
			t.Fatalf("set %d: number not published", i)
		}
		dv := num.current()
		if !dv.SourceTimestamp.After(last) {
			t.Fatalf("set %d: timestamp %v not after %v", i, dv.SourceTimestamp, last)
		}
		last = dv.SourceTimestamp
	}
	var sw *PointSpec
	for i := range cat {
		if cat[i].Type == Bool {
			sw = &cat[i]
			break
		}
	}
	b := &variable{spec: sw}
	if !b.set(true, now) || b.set(true, now) || !b.set(false, now) {
		t.Fatal("a boolean must publish exactly when it changes")
	}
	if !b.setBad(true, now) || b.setBad(true, now) {
		t.Fatal("setBad must publish exactly when the status changes")
	}
	if b.set(true, now) {
		t.Fatal("a bad node must not publish model values")
	}
	if !b.setBad(false, now) || b.current().Value.Value() != true {
		t.Fatalf("recovered node reports %v, want the latest model value", b.current().Value.Value())
	}
}

func TestRepeatedNumberIsNudged(t *testing.T) {
	cat := plantCatalog()
	v := &variable{spec: &cat[0]} // T101.LT, 0..20 m
	now := time.Now()
	v.set(20.0, now)
	v.set(20.0, now)
	if got := v.current().Value.Value().(float64); got != 19.999 {
		t.Fatalf("repeated 20 at the top of the range: got %v, want 19.999", got)
	}
	v.set(5.0, now)
	v.set(5.0, now)
	if got := v.current().Value.Value().(float64); got != 5.001 {
		t.Fatalf("repeated 5: got %v, want 5.001", got)
	}
}

type observed struct {
	min, max map[string]float64
	values   map[string]map[any]bool
}

func run(t *testing.T, p *plant, cat []PointSpec, steps int) observed {
	t.Helper()
	o := observed{min: map[string]float64{}, max: map[string]float64{}, values: map[string]map[any]bool{}}
	out := make([]any, len(cat))
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, chinaTime)
	for range steps {
		clear(out)
		p.step(now, out)
		now = now.Add(time.Second)
		for i, val := range out {
			id := cat[i].ID
			switch x := val.(type) {
			case float64:
				if _, ok := o.min[id]; !ok || x < o.min[id] {
					o.min[id] = x
				}
				if _, ok := o.max[id]; !ok || x > o.max[id] {
					o.max[id] = x
				}
			case bool, string:
				if o.values[id] == nil {
					o.values[id] = map[any]bool{}
				}
				o.values[id][x] = true
			}
		}
	}
	return o
}

func TestModelWithoutExcursionsStaysWithinLimits(t *testing.T) {
	cat := plantCatalog()
	o := run(t, newPlant(cat, 7, 0), cat, 5000)
	for _, p := range cat {
		if p.Type != Double {
			continue
		}
		lo, hi := o.min[p.ID], o.max[p.ID]
		if lo < p.Range.Low || hi > p.Range.High {
			t.Errorf("%s: %v..%v outside range %v..%v", p.ID, lo, hi, p.Range.Low, p.Range.High)
		}
		l := p.Limits
		if (l.High != nil && hi >= *l.High) || (l.Stage1 != nil && hi >= *l.Stage1) || (l.Low != nil && lo <= *l.Low) {
			t.Errorf("%s: %v..%v crosses a limit without an excursion", p.ID, lo, hi)
		}
		if hi-lo <= 0 {
			t.Errorf("%s: never moved", p.ID)
		}
	}
	for _, id := range []string{"T101.PUMP", "T104.PUMP", "R201.AGIT"} {
		if len(o.values[id]) != 2 {
			t.Errorf("%s: values %v, want both true and false", id, o.values[id])
		}
	}
	if n := len(o.values["R201.PHASE"]); n != len(reactorPhases) {
		t.Errorf("R201.PHASE: %d phases seen, want %d", n, len(reactorPhases))
	}
	if n := len(o.values["R201.BATCH"]); n < 10 {
		t.Errorf("R201.BATCH: %d batches in 5000 steps", n)
	}
}

func TestRandomExcursionsCrossLimits(t *testing.T) {
	cat := plantCatalog()
	o := run(t, newPlant(cat, 11, 0.02), cat, 20000)
	var stage1, stage2, tankH, reactorH int
	for _, g := range gasDetectors {
		if o.max[g.id] > g.stage1 {
			stage1++
		}
		if o.max[g.id] > g.stage2 {
			stage2++
		}
	}
	for _, id := range tankIDs {
		if o.max[id+".LT"] > tankLevelH {
			tankH++
		}
	}
	if o.max["R201.TT"] > reactorTempH {
		reactorH++
	}
	if stage1 == 0 || stage2 == 0 || tankH == 0 || reactorH == 0 {
		t.Fatalf("detectors above stage 1: %d, above stage 2: %d; tanks above H: %d; reactor above H: %d", stage1, stage2, tankH, reactorH)
	}
}
