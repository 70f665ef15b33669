package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

func execute(args ...string) (string, error) {
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestVersionAndHelp(t *testing.T) {
	out, err := execute("--version")
	if err != nil || !strings.Contains(out, "lifeline-aggregator version") {
		t.Fatalf("--version: %q %v", out, err)
	}
	out, err = execute("--help")
	if err != nil || !strings.Contains(out, "migrate") || !strings.Contains(out, "run") {
		t.Fatalf("--help: %q %v", out, err)
	}
}

func TestRunRejectsInvalidConfig(t *testing.T) {
	out, err := execute("run", "--config", "../../../testdata/aggregator/invalid.yaml")
	if err == nil || !strings.Contains(out, "server.max_streams") {
		t.Fatalf("got %q %v", out, err)
	}
}

// migrate with nothing but the ClickHouse environment variables: no file,
// no certificates (they are for serving agents).
func TestMigrateNeedsOnlyClickHouse(t *testing.T) {
	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	t.Setenv(config.EnvClickHouseAddr, addr)
	t.Setenv(config.EnvClickHouseDatabase, db)
	out, err := execute("migrate")
	if err != nil || !strings.Contains(out, "schema up to date in "+addr+" database "+db) {
		t.Fatalf("migrate: %q %v", out, err)
	}
	out, err = execute("rollups", "check")
	if err != nil || !strings.Contains(out, "0 rollup buckets disagree") {
		t.Fatalf("rollups check: %q %v", out, err)
	}
	if out, err := execute("run"); err == nil || !strings.Contains(out, "server.tls") {
		t.Fatalf("run without certificates: %q %v", out, err)
	}
}
