package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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

// The command an untrusted server certificate's error prints, run as
// printed, makes the agent's own PKI directory (not the default one)
// trust the certificate.
func TestUntrustedHintRunsAsPrinted(t *testing.T) {
	agentDir := pki.Dir{Root: filepath.Join(t.TempDir(), "agent pki")}
	if _, err := agentDir.Init(pki.DefaultInitOptions()); err != nil {
		t.Fatal(err)
	}
	server := pki.Dir{Root: filepath.Join(t.TempDir(), "server")}
	srv, err := server.Init(pki.DefaultInitOptions())
	if err != nil {
		t.Fatal(err)
	}
	verr := agentDir.Verify(srv.Cert, time.Now())
	if verr == nil {
		t.Fatal("an unknown server certificate was trusted")
	}
	_, hint, ok := strings.Cut(verr.Error(), "trust it with: ")
	if !ok {
		t.Fatalf("no command in %q", verr)
	}
	args := shellFields(t, hint)
	if len(args) < 3 || args[0] != "lifeline-agent" || !slices.Contains(args, "--pki") {
		t.Fatalf("hint %q does not name the PKI directory", hint)
	}
	if out, err := execute(args[1:]...); err != nil {
		t.Fatalf("%s: %v\n%s", hint, err, out)
	}
	if err := agentDir.Verify(srv.Cert, time.Now()); err != nil {
		t.Fatalf("after running the hint: %v", err)
	}
}

// shellFields splits a command line of plain words and double-quoted
// strings, as a shell would for the commands the agent prints.
func shellFields(t *testing.T, line string) []string {
	t.Helper()
	var out []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		if line[0] != '"' {
			word, rest, _ := strings.Cut(line, " ")
			out, line = append(out, word), rest
			continue
		}
		end := strings.Index(line[1:], "\"") + 2
		word, err := strconv.Unquote(line[:end])
		if err != nil {
			t.Fatalf("unquote %q: %v", line[:end], err)
		}
		out, line = append(out, word), line[end:]
	}
	return out
}
