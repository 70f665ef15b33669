package sm4

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestDocsExample(t *testing.T) {
	data, err := os.ReadFile("../../../docs/forwarding.md")
	if err != nil {
		t.Fatal(err)
	}
	var block string
	for _, b := range strings.Split(string(data), "```yaml\n")[1:] {
		if b = b[:strings.Index(b, "```")]; strings.HasPrefix(b, "encryption:") {
			block = b
		}
	}
	if block == "" {
		t.Fatal("docs/forwarding.md has no encryption: example")
	}
	var doc struct {
		Encryption Config `yaml:"encryption"`
	}
	dec := yaml.NewDecoder(bytes.NewReader([]byte(block)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	c, err := New(doc.Encryption)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encrypt([]byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := c.Decrypt(enc); err != nil || string(dec) != "{}" {
		t.Fatalf("round trip = %q, %v", dec, err)
	}
	def := DefaultConfig()
	if doc.Encryption.Mode != def.Mode || doc.Encryption.Encoding != def.Encoding {
		t.Fatalf("documented mode/encoding %s/%s, defaults %s/%s", doc.Encryption.Mode, doc.Encryption.Encoding, def.Mode, def.Encoding)
	}
}
