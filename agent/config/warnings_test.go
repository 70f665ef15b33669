package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const userSource = `site: {id: SITE01, name: plant, park: P1}
aggregator: {address: 127.0.0.1:7400, tls: {insecure: true}}
sources:
  - name: dcs
    endpoint: opc.tcp://127.0.0.1:4840
    auth: username
    username: operator
    %s
    points:
      - {id: T1, name: t, unit: m, kind: level, node: "nsu=urn:x;s=T1", range: {low: 0, high: 20}}
`

func writeConfig(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// A password over security policy None and an inline password in a
// readable file are each warned about; the warning never shows it.
func TestPasswordWarnings(t *testing.T) {
	path := writeConfig(t, strings.Replace(userSource, "%s", "password: hunter2", 1), 0o644)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(Warnings(path, cfg), "\n")
	for _, want := range []string{"security policy None", "password inline", "mode -rw-r--r--"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	if strings.Contains(w, "hunter2") {
		t.Fatal("warning shows the password")
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := Warnings(path, cfg); len(got) != 1 {
		t.Fatalf("private file: %q", got)
	}
}

// password_env names the variable holding the password.
func TestPasswordFromEnvironment(t *testing.T) {
	path := writeConfig(t, strings.Replace(userSource, "%s", "password_env: OPC_PW", 1), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "OPC_PW") {
		t.Fatalf("unset variable: %v", err)
	}
	t.Setenv("OPC_PW", "s3cret")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sources[0].Password != "s3cret" {
		t.Fatalf("password %q", cfg.Sources[0].Password)
	}
	both := writeConfig(t, strings.Replace(userSource, "%s", "password: x\n    password_env: OPC_PW", 1), 0o600)
	if _, err := Load(both); err == nil {
		t.Fatal("password and password_env together accepted")
	}
}

// A point with alarm limits and a server-side deadband is warned about;
// one with limits only, or a deadband only, is not.
func TestFilterHidesValuesFromLimitsWarning(t *testing.T) {
	body := `site: {id: SITE01, name: plant, park: P1}
aggregator: {address: 127.0.0.1:7400, tls: {insecure: true}}
sources:
  - name: dcs
    endpoint: opc.tcp://127.0.0.1:4840
    points:
      - {id: T1, name: t, unit: m, kind: level, node: "nsu=urn:x;s=T1", limits: {h: 18, deadband: 0.2, on_delay: 3s},
         deadband: {type: absolute, value: 0.5}}
      - {id: T2, name: t, unit: m, kind: level, node: "nsu=urn:x;s=T2", limits: {h: 18, deadband: 0.2}}
      - {id: F1, name: f, unit: m3/h, kind: flow, node: "nsu=urn:x;s=F1", deadband: {type: absolute, value: 0.5}}
`
	path := writeConfig(t, body, 0o600)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	w := Warnings(path, cfg)
	if len(w) != 1 || !strings.Contains(w[0], "point T1: deadband absolute 0.5 is a server-side filter") {
		t.Fatalf("warnings: %q", w)
	}
	if d := cfg.Sources[0].Points[0].Limits.OnDelay; d == nil || time.Duration(*d) != 3*time.Second {
		t.Fatalf("limits.on_delay: %v", d)
	}
}
