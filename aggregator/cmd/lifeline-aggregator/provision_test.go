package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

// plainConfig writes a config for commands that do not serve agents.
func plainConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "aggregator.yaml")
	if err := os.WriteFile(path, []byte("server:\n  tls:\n    insecure: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestProvisionDryRunWritesFiles(t *testing.T) {
	t.Setenv(envGrafanaURL, "")
	t.Setenv(envGrafanaToken, "")
	dir := t.TempDir()
	out, err := execute("provision", "--config", plainConfig(t), "--dry-run", "--out", dir, "--lang", "en",
		"--site", "ENT01=江北化工园区", "--site", "ENT02=江北化工园区")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(out, "7 dashboards in 1 park folders") {
		t.Errorf("output: %q", out)
	}
	for _, p := range []string{"provisioning/datasources/lifeline.yaml", "provisioning/dashboards/lifeline.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Error(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "dashboards", "*", "*.json"))
	if len(files) != 7 {
		t.Errorf("%d dashboard files, want 7", len(files))
	}
	data, _ := os.ReadFile(files[0])
	if !strings.Contains(string(data), "江北化工园区") {
		t.Errorf("%s does not name the park", files[0])
	}
}

func TestProvisionNeedsGrafanaOrDryRun(t *testing.T) {
	t.Setenv(envGrafanaURL, "")
	t.Setenv(envGrafanaToken, "")
	out, err := execute("provision", "--config", plainConfig(t), "--site", "A=B")
	if err == nil || !strings.Contains(out, "grafana.url: required") {
		t.Fatalf("got %q %v", out, err)
	}
	out, err = execute("provision", "--config", plainConfig(t), "--dry-run", "--out", t.TempDir(), "--site", "A")
	if err == nil || !strings.Contains(out, "want SITE=PARK") {
		t.Fatalf("got %q %v", out, err)
	}
}

// Before any agent has connected, provision --dry-run writes the data
// source and an empty dashboard provider, and says why there are no
// dashboards.
func TestProvisionDryRunBeforeAnySite(t *testing.T) {
	t.Setenv(envGrafanaURL, "")
	t.Setenv(envGrafanaToken, "")
	addr := chtest.Addr(t)
	t.Setenv(config.EnvClickHouseAddr, addr)
	t.Setenv(config.EnvClickHouseDatabase, chtest.Database(t, addr))
	dir := filepath.Join(t.TempDir(), "grafana")
	out, err := execute("provision", "--dry-run", "--out", dir)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(out, "0 dashboards in 0 park folders") || !strings.Contains(out, "no site is registered yet") {
		t.Errorf("output: %q", out)
	}
	for _, p := range []string{"provisioning/datasources/lifeline.yaml", "provisioning/dashboards/lifeline.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Error(err)
		}
	}
}
