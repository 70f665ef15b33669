package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// A first configuration names a source and nothing else: browse, points
// import and status use it as it is, while run and check still refuse it
// for what running needs.
func TestCommandsValidateOnlyWhatTheyUse(t *testing.T) {
	sim := startSim(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "agent.yaml")
	first := "sources:\n  - name: dcs\n    endpoint: " + sim.Endpoint() + "\nmetrics: {listen: 127.0.0.1:1}\n"
	if err := os.WriteFile(cfgPath, []byte(first), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := execute("check", "--config", cfgPath); err == nil || !strings.Contains(out, "aggregator.tls") ||
		!strings.Contains(out, "sources[dcs].points") {
		t.Fatalf("check of an unfinished configuration: %v\n%s", err, out)
	}
	csvPath := filepath.Join(dir, "points.csv")
	out, err := execute("browse", "--config", cfgPath, "--root", "nsu="+sim.NamespaceURI()+";s=TankFarm", "--depth", "4", "--csv", csvPath)
	if err != nil {
		t.Fatalf("browse --config with a source without points: %v\n%s", err, out)
	}
	newPath := filepath.Join(dir, "agent-new.yaml")
	out, err = execute("points", "import", csvPath, "--config", cfgPath, "-o", newPath)
	if err != nil {
		t.Fatalf("import into a configuration without certificates: %v\n%s", err, out)
	}
	if !strings.Contains(out, "fix the rest of") || !strings.Contains(out, "site.id") || strings.Contains(out, "sources[dcs].points") {
		t.Fatalf("import does not say what is left to do: %s", out)
	}
	cfg, err := config.LoadFor(newPath, config.SourcesSection)
	if err != nil || len(cfg.Sources[0].Points) < 10 {
		t.Fatalf("imported configuration: %v", err)
	}
	if out, err := execute("status", "--config", cfgPath); err == nil || !strings.Contains(out, "not reachable at http://127.0.0.1:1/metrics") {
		t.Fatalf("status reads only metrics.listen: %v\n%s", err, out)
	}
}
