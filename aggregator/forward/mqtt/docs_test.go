package mqtt_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/lifeline-telemetry/lifeline/aggregator/forward/mqtt"
)

// docsBlock returns the YAML example in docs/forwarding.md whose first line
// starts with key.
func docsBlock(t *testing.T, key string) []byte {
	t.Helper()
	data, err := os.ReadFile("../../../docs/forwarding.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range strings.Split(string(data), "```yaml\n")[1:] {
		block = block[:strings.Index(block, "```")]
		if strings.HasPrefix(block, key+":") {
			return []byte(block)
		}
	}
	t.Fatalf("docs/forwarding.md has no YAML example starting with %s:", key)
	return nil
}

// The documented example uses every option, with the defaults where there
// is one, so the page and DefaultConfig cannot drift apart.
func TestDocsExampleIsDefaults(t *testing.T) {
	var doc struct {
		MQTT mqtt.Config `yaml:"mqtt"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(docsBlock(t, "mqtt")))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if err := doc.MQTT.Validate(); err != nil {
		t.Fatal(err)
	}
	got, want := doc.MQTT, mqtt.DefaultConfig()
	got.Broker, got.ClientID, got.TLS = "", "", mqtt.TLS{}
	if got != want {
		t.Fatalf("documented defaults differ from DefaultConfig:\n doc  %+v\n code %+v", got, want)
	}
}
