package config

import (
	"strings"
	"testing"
)

// The shipped example must be refused until it is filled in, with the
// option to change named.
func TestSamplePlaceholders(t *testing.T) {
	cfg, err := Load(sample)
	if err != nil {
		t.Fatal(err)
	}
	got := Placeholders(cfg)
	if len(got) != 1 || !strings.Contains(got[0], `sources[dcs].endpoint "opc.tcp://192.0.2.10:4840"`) {
		t.Fatalf("placeholders of the sample config: %q", got)
	}
	cfg.Sources[0].Endpoint = "opc.tcp://10.1.2.3:4840"
	if got := Placeholders(cfg); len(got) != 0 {
		t.Fatalf("a filled-in config still has placeholders: %q", got)
	}
}

func TestDocumentationHost(t *testing.T) {
	for host, want := range map[string]bool{
		"192.0.2.10": true, "198.51.100.1": true, "203.0.113.255": true, "2001:db8::1": true, "::ffff:192.0.2.1": true,
		"dcs.example.com": true, "example.org": true, "opc.plant.example": true, "DCS.EXAMPLE.NET.": true,
		"127.0.0.1": false, "10.0.0.5": false, "192.0.3.1": false, "dcs.plant.cn": false, "myexample.com": false, "": false,
	} {
		if got := documentationHost(host); got != want {
			t.Errorf("documentationHost(%q) = %v, want %v", host, got, want)
		}
	}
}
