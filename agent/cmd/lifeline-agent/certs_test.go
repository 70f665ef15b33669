package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeline-telemetry/lifeline/agent/pki"
)

func TestCertsInitTrustShow(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	out, err := execute("certs", "init", "--pki", dir, "--uri", "urn:plant-pc:lifeline-agent", "--host", "plant-pc", "--days", "30")
	if err != nil || !strings.Contains(out, "urn:plant-pc:lifeline-agent") {
		t.Fatalf("certs init: %q %v", out, err)
	}
	if _, err := execute("certs", "init", "--pki", dir); err == nil {
		t.Fatal("second init replaced the certificate")
	}
	// Trust another application's certificate.
	other := pki.Dir{Root: filepath.Join(t.TempDir(), "other")}
	o := pki.DefaultInitOptions()
	o.ApplicationURI = "urn:dcs:server"
	o.CommonName = "DCS Server"
	own, err := other.Init(o)
	if err != nil {
		t.Fatal(err)
	}
	out, err = execute("certs", "trust", "--pki", dir, other.OwnCertPath())
	if err != nil || !strings.Contains(out, pki.Thumbprint(own.Cert)) {
		t.Fatalf("certs trust: %q %v", out, err)
	}
	out, err = execute("certs", "show", "--pki", dir)
	if err != nil || !strings.Contains(out, "DCS_Server [") || !strings.Contains(out, "trusted") {
		t.Fatalf("certs show: %q %v", out, err)
	}
	junk := filepath.Join(t.TempDir(), "x.der")
	os.WriteFile(junk, []byte("junk"), 0o644)
	if out, err := execute("certs", "trust", "--pki", dir, junk); err == nil {
		t.Fatalf("trusted junk: %q", out)
	}
}
