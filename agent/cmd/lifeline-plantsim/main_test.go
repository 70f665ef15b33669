package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

func execute(args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	cmd := newRootCmd(&out, &errOut)
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestConfigPrintsValidAgentConfig(t *testing.T) {
	out, _, err := execute("config", "--aggregator", "127.0.0.1:7400", "--buffer", t.TempDir(), "--site", "DEMO01",
		"--endpoint", "opc.tcp://192.0.2.10:4841", "--points", "5")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(out))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, out)
	}
	src := cfg.Sources[0]
	if src.Endpoint != "opc.tcp://192.0.2.10:4841" || len(src.Points) != 29+5 {
		t.Fatalf("source %s with %d points", src.Endpoint, len(src.Points))
	}
	for _, p := range src.Points {
		if !strings.HasPrefix(p.Node, "nsu=urn:lifeline:plantsim;s=") {
			t.Errorf("%s: node %s", p.ID, p.Node)
		}
	}
}

func TestConfigRejectsBadInput(t *testing.T) {
	tests := [][]string{
		{"config", "--buffer", "/tmp/b", "--site", "S1"},
		{"config", "--aggregator", "127.0.0.1:7400", "--buffer", "/tmp/b", "--site", "bad id"},
		{"config", "--aggregator", "127.0.0.1:7400", "--buffer", "/tmp/b", "--site", "S1", "--endpoint", "http://x:1"},
		{"config", "--aggregator", "127.0.0.1:7400", "--buffer", "/tmp/b", "--site", "S1", "--points", "-1"},
	}
	for _, args := range tests {
		if out, _, err := execute(args...); err == nil {
			t.Errorf("%v: no error; printed %d bytes", args, len(out))
		}
	}
}

func TestVersion(t *testing.T) {
	out, _, err := execute("--version")
	if err != nil || !strings.Contains(out, version) {
		t.Fatalf("--version: %q, %v", out, err)
	}
}
