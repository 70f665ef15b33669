package config

import (
	"os"
	"strings"
	"testing"
)

// docs/agent.md's worked alarm-limit examples load as a point list, pass
// validation without warnings, and cover every kind they promise.
func TestAlarmLimitExamplesInDocs(t *testing.T) {
	data, err := os.ReadFile("../../docs/agent.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	start := strings.Index(doc, "### Worked examples")
	if start < 0 {
		t.Fatal(`docs/agent.md has no "### Worked examples"`)
	}
	section := doc[start:]
	if end := strings.Index(section, "\n## "); end > 0 {
		section = section[:end]
	}
	var points []string
	for _, block := range strings.Split(section, "```yaml\n")[1:] {
		body, _, _ := strings.Cut(block, "```")
		points = append(points, body)
	}
	body := `site: {id: SITE01, name: plant, park: P1}
aggregator: {address: 127.0.0.1:7400, tls: {insecure: true}}
sources:
  - name: dcs
    endpoint: opc.tcp://127.0.0.1:4840
    points:
` + strings.Join(points, "")
	path := writeConfig(t, body, 0o600)
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("worked examples: %v", err)
	}
	if w := Warnings(path, cfg); len(w) != 0 {
		t.Fatalf("worked examples warn: %q", w)
	}
	kinds := map[string]bool{}
	for _, p := range cfg.Sources[0].Points {
		if !p.Limits.any() {
			t.Errorf("%s: no limits", p.ID)
		}
		kinds[p.Kind] = true
	}
	for _, k := range []string{"level", "temperature", "gas_combustible", "gas_toxic", "gas_oxygen"} {
		if !kinds[k] {
			t.Errorf("no worked example of kind %s", k)
		}
	}
}

// A negative alarm delay is refused, naming the point.
func TestNegativeAlarmDelay(t *testing.T) {
	body := `site: {id: SITE01, name: plant, park: P1}
aggregator: {address: 127.0.0.1:7400, tls: {insecure: true}}
sources:
  - name: dcs
    endpoint: opc.tcp://127.0.0.1:4840
    points:
      - {id: T1, name: t, unit: m, kind: level, node: "nsu=urn:x;s=T1", limits: {h: 18, off_delay: -1s}}
`
	_, err := Load(writeConfig(t, body, 0o600))
	if err == nil || !strings.Contains(err.Error(), "points[T1].limits: on_delay and off_delay must be >= 0s") {
		t.Fatalf("negative off_delay: %v", err)
	}
}
