package linkca

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

func TestIssueChain(t *testing.T) {
	dir := t.TempDir()
	if err := Init(dir, "CA"); err != nil {
		t.Fatal(err)
	}
	if err := Init(dir, "CA"); err == nil {
		t.Fatal("Init overwrote an existing CA")
	}
	if err := Agent(dir, dir, "储罐区-01"); err != nil {
		t.Fatal(err)
	}
	if err := Server(dir, dir, "aggregator", nil); err == nil {
		t.Fatal("server certificate without hosts")
	}
	ca := readCert(t, filepath.Join(dir, CACert))
	leaf := readCert(t, filepath.Join(dir, "储罐区-01.crt"))
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != "储罐区-01" {
		t.Fatalf("CN %q", leaf.Subject.CommonName)
	}
	if st, err := os.Stat(filepath.Join(dir, "储罐区-01.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", st.Mode(), err)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
