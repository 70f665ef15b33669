package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// check of the installed example names what to fill in, without trying
// to reach the example's OPC UA server; run refuses it too.
func TestCheckNamesPlaceholders(t *testing.T) {
	sample, err := os.ReadFile("../../../packaging/config/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The certificates named in a temporary directory: this machine's own
	// /etc/lifeline/tls must not decide the test.
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(sample), "/etc/lifeline/tls", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, err := execute("check", "--config", path)
	if err == nil {
		t.Fatalf("check accepted the example config:\n%s", out)
	}
	for _, want := range []string{
		"not filled in for the plant yet",
		`sources[dcs].endpoint "opc.tcp://192.0.2.10:4840": 192.0.2.10 is an example address`,
		"aggregator.tls: no such file: ca_file " + filepath.Join(dir, "ca.crt"),
		"value(s) to fill in",
	} {
		if !strings.Contains(out, want) && !strings.Contains(err.Error(), want) {
			t.Errorf("check output lacks %q:\n%s\n%v", want, out, err)
		}
	}
	if strings.Contains(out, "connect to") || time.Since(start) > 2*time.Second {
		t.Errorf("check tried to reach the example server:\n%s", out)
	}
	if _, err := execute("run", "--config", path); err == nil ||
		!strings.Contains(err.Error(), "still the example") {
		t.Errorf("run of the example config: %v", err)
	}
}
