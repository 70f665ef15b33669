package config

import (
	"os"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the config parser: it must return an
// error or a config that validates, never panic.
func FuzzParse(f *testing.F) {
	for _, p := range []string{sample, "../../testdata/agent/bad-nodes.yaml", "../../testdata/agent/unknown-key.yaml"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("sources: [{points: [{node: 'nsu=;'}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that does not validate: %v", err)
		}
	})
}
