package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/linkca"
)

// certs agent writes only inside --out, never over an existing key
// without --force, and certs revoke --site lists every serial of the site.
func TestCertsAgentAndRevoke(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	out := filepath.Join(dir, "out", "plants")
	if _, err := execute("certs", "init", "--dir", ca); err != nil {
		t.Fatal(err)
	}
	for _, site := range []string{"../../x", "SITE 01", "a/b"} {
		if _, err := execute("certs", "agent", "--dir", ca, "--out", out, "--site", site); err == nil {
			t.Errorf("site %q got a certificate", site)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.key")); err == nil {
		t.Fatal("key written outside --out")
	}
	if _, err := execute("certs", "agent", "--dir", ca, "--out", out, "--site", "SITE01"); err != nil {
		t.Fatal(err)
	}
	// The plant gets the CA's certificate beside its own, never the CA's key.
	if _, err := os.Stat(filepath.Join(out, linkca.CACert)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, linkca.CAKey)); err == nil {
		t.Fatal("the CA's key was copied out")
	}
	if _, err := execute("certs", "agent", "--dir", ca, "--out", out, "--site", "SITE01"); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("existing key replaced silently: %v", err)
	}
	msg, err := execute("certs", "agent", "--dir", ca, "--out", out, "--site", "SITE01", "--force")
	if err != nil || !strings.Contains(msg, "serial") {
		t.Fatalf("renewal: %q %v", msg, err)
	}
	if msg, err = execute("certs", "revoke", "--dir", ca, "--site", "SITE01"); err != nil || !strings.Contains(msg, "revoked 2 serial") {
		t.Fatalf("revoke: %q %v", msg, err)
	}
	data, err := os.ReadFile(filepath.Join(ca, linkca.Revoked))
	if err != nil {
		t.Fatal(err)
	}
	if list, err := linkca.ParseRevoked(data); err != nil || len(list) != 2 {
		t.Fatalf("revoked list %v %v:\n%s", list, err, data)
	}
	if _, err := execute("certs", "revoke", "--dir", ca); err == nil {
		t.Fatal("revoke with nothing named")
	}
}
