package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
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
	if err != nil || !strings.Contains(out, "lifeline-agent version") {
		t.Fatalf("--version: %q %v", out, err)
	}
	out, err = execute("--help")
	if err != nil || !strings.Contains(out, "run") || !strings.Contains(out, "check") {
		t.Fatalf("--help: %q %v", out, err)
	}
}

func TestCheckRejectsInvalidConfig(t *testing.T) {
	out, err := execute("check", "--config", "../../../testdata/agent/bad-nodes.yaml")
	if err == nil || !strings.Contains(out, "uses a namespace index") {
		t.Fatalf("check accepted an invalid config: %q %v", out, err)
	}
}

// check against an unreachable server fails, naming the endpoint.
func TestCheckUnreachableServer(t *testing.T) {
	cfg := strings.ReplaceAll(`site: {id: S1, park: 园区}
aggregator: {address: 127.0.0.1:7400, tls: {insecure: true}}
buffer: {dir: DIR}
sources:
  - name: dcs
    endpoint: opc.tcp://127.0.0.1:1
    points: [{id: T1, node: "nsu=urn:x;s=T1"}]
`, "DIR", t.TempDir())
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := execute("check", "--config", path)
	if err == nil || !strings.Contains(out, "opc.tcp://127.0.0.1:1") {
		t.Fatalf("got %q %v", out, err)
	}
}

func TestProgressLine(t *testing.T) {
	line := progressLine(1000, 250, 125, 2)
	for _, want := range []string{"[######################........]", " 75%", "250 samples left", "125/s", "ETA 2s"} {
		if !strings.Contains(line, want) {
			t.Errorf("%q lacks %q", line, want)
		}
	}
}

// The agent sets its own GOGC and soft memory limit unless the environment
// names them, in which case the runtime's reading of the environment stands.
func TestGCSettingsDefaultUnlessEnvironmentSetsThem(t *testing.T) {
	restoreEnv := func(k string) {
		old, had := os.LookupEnv(k)
		t.Cleanup(func() {
			if had {
				os.Setenv(k, old)
			} else {
				os.Unsetenv(k)
			}
		})
	}
	restoreEnv("GOGC")
	restoreEnv("GOMEMLIMIT")
	gogc, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(gogc); debug.SetMemoryLimit(limit) })

	os.Unsetenv("GOGC")
	os.Unsetenv("GOMEMLIMIT")
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
	setGCPercent()
	if got := debug.SetMemoryLimit(-1); got != agentMemoryLimit {
		t.Errorf("memory limit %d, want %d", got, agentMemoryLimit)
	}
	if got := debug.SetGCPercent(agentGCPercent); got != agentGCPercent {
		t.Errorf("GOGC %d, want %d", got, agentGCPercent)
	}

	os.Setenv("GOGC", "75")
	os.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetGCPercent(75)
	debug.SetMemoryLimit(1 << 30)
	setGCPercent()
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("memory limit %d with GOMEMLIMIT set, want 1 GiB", got)
	}
	if got := debug.SetGCPercent(75); got != 75 {
		t.Errorf("GOGC %d with GOGC set, want 75", got)
	}
}
