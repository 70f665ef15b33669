package pki

import (
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func initDir(t *testing.T, uri string) (Dir, Own) {
	t.Helper()
	d := Dir{Root: filepath.Join(t.TempDir(), "pki")}
	o := DefaultInitOptions()
	o.ApplicationURI = uri
	o.Hosts = []string{"agent-host", "127.0.0.1"}
	own, err := d.Init(o)
	if err != nil {
		t.Fatal(err)
	}
	return d, own
}

func TestInitCreatesLayoutAndMatchingURI(t *testing.T) {
	d, own := initDir(t, "urn:plant-pc:lifeline-agent")
	if own.ApplicationURI != "urn:plant-pc:lifeline-agent" {
		t.Errorf("application URI %q", own.ApplicationURI)
	}
	if len(own.Parsed.DNSNames) != 1 || own.Parsed.DNSNames[0] != "agent-host" || len(own.Parsed.IPAddresses) != 1 {
		t.Errorf("SAN: %v %v", own.Parsed.DNSNames, own.Parsed.IPAddresses)
	}
	if own.Key.N.BitLen() < 2048 {
		t.Errorf("key of %d bits", own.Key.N.BitLen())
	}
	for _, dir := range []string{d.TrustedDir(), d.RejectedDir()} {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Errorf("%s: %v", dir, err)
		}
	}
	fi, err := os.Stat(d.OwnKeyPath())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", fi.Mode(), err)
	}
	// Init never replaces the identity servers already trust.
	if _, err := d.Init(DefaultInitOptions()); !errors.Is(err, ErrExists) {
		t.Errorf("second Init: %v, want ErrExists", err)
	}
	again, err := d.LoadOwn()
	if err != nil || string(again.Cert) != string(own.Cert) {
		t.Fatalf("LoadOwn: %v", err)
	}
}

func TestLoadOwnMissing(t *testing.T) {
	d := Dir{Root: t.TempDir()}
	_, err := d.LoadOwn()
	if !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("got %v", err)
	}
}

func TestVerifyRejectThenTrust(t *testing.T) {
	d, _ := initDir(t, "urn:a:lifeline-agent")
	server, serverOwn := initDir(t, "urn:b:server")
	_ = server
	now := time.Now()

	err := d.Verify(serverOwn.Cert, now)
	var ue *UntrustedError
	if !errors.As(err, &ue) {
		t.Fatalf("unknown certificate: %v, want UntrustedError", err)
	}
	if ue.Thumbprint != Thumbprint(serverOwn.Cert) || ue.Path == "" {
		t.Fatalf("error fields: %+v", ue)
	}
	saved, err := os.ReadFile(ue.Path)
	if err != nil || string(saved) != string(serverOwn.Cert) {
		t.Fatalf("rejected copy: %v", err)
	}
	t.Log(ue)

	// The operator trusts the rejected file.
	path, err := d.Trust(ue.Path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ue.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("still in rejected/: %v", err)
	}
	if filepath.Dir(path) != d.TrustedDir() {
		t.Errorf("trusted at %s", path)
	}
	if err := d.Verify(serverOwn.Cert, now); err != nil {
		t.Fatalf("after trust: %v", err)
	}
	if err := d.Verify(serverOwn.Cert, now.Add(10*365*24*time.Hour)); !errors.As(err, &ue) || ue.Reason == "" {
		t.Fatalf("expired certificate: %v", err)
	}
}

func TestTrustPEMAndCA(t *testing.T) {
	d, _ := initDir(t, "urn:a:lifeline-agent")
	_, other := initDir(t, "urn:c:server")
	pemFile := filepath.Join(t.TempDir(), "server.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.Cert}), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Trust(pemFile); err != nil {
		t.Fatal(err)
	}
	if err := d.Verify(other.Cert, time.Now()); err != nil {
		t.Fatal(err)
	}
	// A certificate that is not a certificate is refused with the file name.
	bad := filepath.Join(t.TempDir(), "bad.der")
	os.WriteFile(bad, []byte("junk"), 0o644)
	if _, err := d.Trust(bad); err == nil {
		t.Fatal("trusted junk")
	}
}
