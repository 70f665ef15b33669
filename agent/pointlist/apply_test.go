package pointlist

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// Browsed node identifiers become readable, valid and unique IDs.
func TestSuggestedIDsAreReadable(t *testing.T) {
	used := map[string]bool{"DB_Tank.T101.LT_2": true}
	for _, tc := range []struct{ node, path, want string }{
		{`nsu=urn:siemens;s="DB_Tank"."T101"."LT"`, "", "DB_Tank.T101.LT"},
		{`nsu=urn:siemens;s="DB_Tank"."T101"."LT"`, "", "DB_Tank.T101.LT_3"},
		{`nsu=urn:kep;s=Channel1/Device 1/ Tag`, "", "Channel1.Device_1.Tag"},
		{`nsu=urn:x;s='A'.'B'`, "", "A.B"},
		{`nsu=urn:x;i=5001`, "Plant/储罐 2/液位", "Plant.储罐_2.液位"},
		{`nsu=urn:x;s=""`, "", "P"},
		{`nsu=urn:x;s=` + strings.Repeat("长", 40), "", strings.Repeat("长", 18)},
	} {
		got := suggestID(TemplateRow{Node: tc.node, Path: tc.path}, used)
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.node, got, tc.want)
		}
		if err := config.ValidateID(got); err != nil {
			t.Errorf("%s: %q is not a valid ID: %v", tc.node, got, err)
		}
	}
}

func mustParse(t *testing.T, csv string) *List {
	t.Helper()
	l, err := Parse([]byte(csv))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// A partial 点表 merged into browsed points renames and completes the
// points it names (matched by node), keeps the rest, and a hazard source
// no point uses any more is removed.
func TestApplyMergeAndReplace(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTemplate(&buf, []TemplateRow{
		{Node: `nsu=urn:dcs;s="DB_Tank"."T101"."LT"`, Name: "1号罐液位"},
		{Node: `nsu=urn:dcs;s="DB_Tank"."T101"."TT"`, Name: "1号罐温度"},
		{Node: `nsu=urn:dcs;s="DB_Tank"."T102"."LT"`, Name: "2号罐液位"},
	}); err != nil {
		t.Fatal(err)
	}
	browsed := mustParse(t, buf.String())
	cfg := config.Default()
	cfg = config.Config{Log: cfg.Log,
		HazardSources: []config.HazardSource{{Code: "OLD", Name: "旧罐区", Level: 3}},
		Sources:       []config.Source{{Name: "dcs", Endpoint: "opc.tcp://dcs:4840", Points: []config.Point{{ID: "X", Node: "nsu=urn:dcs;s=X", HazardSource: "OLD"}}}},
	}
	res, err := Apply(&cfg, browsed, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sources[0].Points) != 3 || res.Sources[0] != (SourceChange{Source: "dcs", Added: 3, Removed: 1}) {
		t.Fatalf("replace: %+v %+v", res, cfg.Sources[0].Points)
	}
	if len(cfg.HazardSources) != 0 || len(res.DroppedHazards) != 1 || res.DroppedHazards[0].Code != "OLD" {
		t.Fatalf("unused hazard source: kept %v, dropped %v", cfg.HazardSources, res.DroppedHazards)
	}

	partial := mustParse(t, "位号,节点,高报,重大危险源编码,重大危险源名称,重大危险源等级\n"+
		`T101.LT,"nsu=urn:dcs;s=""DB_Tank"".""T101"".""LT""",18,HS-01,甲醇储罐区,二级`+"\n"+
		"T103.LT,nsu=urn:dcs;s=T103.LT,,HS-01,甲醇储罐区,二级\n")
	res, err = Apply(&cfg, partial, ApplyOptions{Merge: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sources[0] != (SourceChange{Source: "dcs", Updated: 1, Added: 1, Kept: 2}) {
		t.Fatalf("merge: %+v", res.Sources[0])
	}
	var ids []string
	for _, p := range cfg.Sources[0].Points {
		ids = append(ids, p.ID)
	}
	if got := strings.Join(ids, " "); got != "T101.LT DB_Tank.T101.TT DB_Tank.T102.LT T103.LT" {
		t.Fatalf("merged points: %s", got)
	}
	if p := cfg.Sources[0].Points[0]; p.HazardSource != "HS-01" || p.Limits == nil || *p.Limits.High != 18 {
		t.Fatalf("updated point: %+v", p)
	}
	if len(cfg.HazardSources) != 1 || cfg.HazardSources[0].Code != "HS-01" || len(res.DroppedHazards) != 0 {
		t.Fatalf("hazard sources: %+v dropped %+v", cfg.HazardSources, res.DroppedHazards)
	}
	config.SourceDefaults(&cfg.Sources[0])
	if err := cfg.ValidateFor(config.SourcesSection); err != nil {
		t.Fatalf("merged configuration: %v", err)
	}
}
