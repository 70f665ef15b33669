package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
)

func startSim(t *testing.T) *plantsim.Sim {
	t.Helper()
	sim := plantsim.New(plantsim.Options{Addr: "127.0.0.1:0", ExcursionsPerHour: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sim.Shutdown(ctx)
	})
	return sim
}

// browse → template CSV → points import into a configuration → a valid
// configuration with the simulator's tank-farm points.
func TestBrowseTemplateImport(t *testing.T) {
	sim := startSim(t)
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "points.csv")
	out, err := execute("browse", sim.Endpoint(), "--root", "nsu="+sim.NamespaceURI()+";s=TankFarm", "--depth", "4", "--csv", csvPath)
	if err != nil {
		t.Fatalf("browse: %v\n%s", err, out)
	}
	if !strings.Contains(out, "nsu=urn:lifeline:plantsim;s=TankFarm.T101.Level") || strings.Contains(out, "Reactor") {
		t.Fatalf("browse output:\n%s", out)
	}
	// The simulator's display names are Chinese; the columns after them
	// still line up on a terminal.
	table := linesWith(out, "NODE ", "nsu=")
	if len(table) < 10 || !strings.Contains(out, "甲醇") {
		t.Fatalf("browse table:\n%s", out)
	}
	assertAligned(t, table)
	data, err := os.ReadFile(csvPath)
	if err != nil || !strings.HasPrefix(string(data), "\ufeff位号(id),") {
		t.Fatalf("template: %v\n%.200s", err, data)
	}

	cfgPath := filepath.Join(dir, "agent.yaml")
	cfgData, err := sim.AgentConfig("127.0.0.1:7400", filepath.Join(dir, "buf"), "SITE01").Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, cfgData, 0o644); err != nil {
		t.Fatal(err)
	}
	newPath := filepath.Join(dir, "agent-new.yaml")
	out, err = execute("points", "import", csvPath, "--config", cfgPath, "-o", newPath)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	// The simulator's configuration named its hazard sources; the
	// browsed template names none, so they are unused now.
	if !strings.Contains(out, "hazard source HS-01 (甲醇储罐区) is used by no point any more: removed") {
		t.Fatalf("import does not report the unused hazard source:\n%s", out)
	}
	cfg, err := config.Load(newPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.HazardSources) != 0 {
		t.Fatalf("unused hazard sources kept: %+v", cfg.HazardSources)
	}

	cfg = mergePartial(t, dir, newPath, len(cfg.Sources[0].Points))
	pts := cfg.Sources[0].Points
	found := false
	for _, p := range pts {
		if !strings.Contains(p.Node, "TankFarm") {
			t.Errorf("point outside the browsed root: %+v", p)
		}
		if p.ID == "TankFarm.T101.Level" {
			t.Errorf("the 点表 did not rename %s", p.ID)
		}
		if p.ID == "TankFarm.T102.Level" && p.Name != "" {
			found = true
		}
	}
	if !found || len(pts) < 10 {
		t.Fatalf("%d points imported, T101 level found: %v", len(pts), found)
	}
	// check reads every imported point from the live simulator.
	out, err = execute("check", "--config", newPath)
	if err != nil {
		t.Fatalf("check of the imported configuration: %v\n%s", err, out)
	}
	if table = linesWith(out, "  "); len(table) < 10 || !strings.HasPrefix(table[0], "  POINT") {
		t.Fatalf("check table:\n%s", out)
	}
	assertAligned(t, table)
}

func TestPointsImportGBKFragmentAndErrors(t *testing.T) {
	out, err := execute("points", "import", "../../pointlist/testdata/points-gbk.csv")
	if err != nil || !strings.Contains(out, "甲醇储罐区") || !strings.Contains(out, "GB18030") || !strings.Contains(out, "node: nsu=urn:vendor:dcs;s=T101.LT") {
		t.Fatalf("import GBK: %v\n%s", err, out)
	}
	out, err = execute("points", "import", "../../pointlist/testdata/points-bad.csv")
	if err == nil || !strings.Contains(out, "row 3, column 节点") {
		t.Fatalf("import of a bad list: %v\n%s", err, out)
	}
}

// mergePartial merges a one-row 点表 into the configuration at path, which
// holds browsed points: the row renames and completes one of them and the
// others stay.
func mergePartial(t *testing.T, dir, path string, browsed int) config.Config {
	t.Helper()
	partial := filepath.Join(dir, "partial.csv")
	if err := os.WriteFile(partial, []byte("位号,节点,高报,重大危险源编码,重大危险源名称,重大危险源等级\n"+
		"T101.LT,nsu=urn:lifeline:plantsim;s=TankFarm.T101.Level,18,HS-01,甲醇储罐区,二级\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := execute("points", "import", partial, "--config", path, "--merge", "-o", path)
	if err != nil || !strings.Contains(out, fmt.Sprintf("source plantsim: 1 points updated, 0 added, %d kept", browsed-1)) {
		t.Fatalf("import --merge: %v\n%s", err, out)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	pts := cfg.Sources[0].Points
	if len(pts) != browsed || pts[0].ID != "T101.LT" || pts[0].HazardSource != "HS-01" || len(cfg.HazardSources) != 1 {
		t.Fatalf("merged: %d points (browsed %d), first %+v, hazard sources %+v", len(pts), browsed, pts[0], cfg.HazardSources)
	}
	return cfg
}

// linesWith returns the lines of out that start with one of prefixes.
func linesWith(out string, prefixes ...string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				lines = append(lines, l)
				break
			}
		}
	}
	return lines
}
