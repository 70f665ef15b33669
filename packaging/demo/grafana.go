package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
)

// grafana provisions the demo site's dashboards: into the Grafana at
// $GRAFANA_URL when it and $GRAFANA_TOKEN are set, else as files under
// var/demo/grafana for Grafana's file provisioning or for import. Failure
// is reported and does not stop the demo.
func grafana(root, aggCfg string) {
	base, err := os.ReadFile(aggCfg)
	if err != nil {
		fmt.Printf("demo: grafana: %v\n", err)
		return
	}
	// The demo's ClickHouse has only its default user.
	cfg := filepath.Join(root, "aggregator-grafana.yaml")
	data := string(base) + "grafana:\n  datasource:\n    username: default\n"
	if err := os.WriteFile(cfg, []byte(data), 0o644); err != nil {
		fmt.Printf("demo: grafana: %v\n", err)
		return
	}
	args := []string{"provision", "--config", cfg, "--site", site + "=" + plantsim.SitePark}
	live := os.Getenv("GRAFANA_URL") != "" && os.Getenv("GRAFANA_TOKEN") != ""
	out := filepath.Join(root, "grafana")
	if !live {
		args = append(args, "--dry-run", "--out", out)
	}
	text, err := exec.Command(binary("lifeline-aggregator"), args...).CombinedOutput()
	lines := strings.TrimSpace(string(text))
	if err != nil {
		fmt.Printf("demo: grafana: provision failed: %v\n%s\n", err, lines)
		return
	}
	for _, l := range strings.Split(lines, "\n") {
		fmt.Println("demo: grafana:", l)
	}
	if !live {
		fmt.Printf("demo: grafana: import %s/dashboards/*/*.json, or point Grafana's provisioning at %s/provisioning (docs/grafana.md)\n", out, out)
	}
}
