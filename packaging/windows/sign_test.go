package windows

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// codeSigningCert writes a throwaway self-signed code-signing certificate
// and its key as PEM files.
func codeSigningCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "Lifeline test code signing", Organization: []string{"Lifeline"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "sign.crt"), filepath.Join(dir, "sign.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// verify runs osslsigncode verify trusting only ca; it reports whether the
// signature checked out, and what osslsigncode said.
func verify(t *testing.T, ca, file string) (bool, string) {
	t.Helper()
	out, err := exec.Command(need(t, "osslsigncode"), "verify", "-CAfile", ca, "-in", file).CombinedOutput()
	return err == nil && strings.Contains(string(out), "Succeeded"), string(out)
}

// make msi with SIGN_CERT and SIGN_KEY signs the exe inside and the MSI
// itself, as docs/windows.md describes; an unsigned build verifies as not
// signed.
func TestMSISignedWithOsslsigncode(t *testing.T) {
	need(t, "osslsigncode")
	cert, key := codeSigningCert(t)
	msi := buildMSI(t, "v0.0.1", "SIGN_CERT="+cert, "SIGN_KEY="+key)
	if ok, out := verify(t, cert, msi); !ok {
		t.Errorf("signed MSI does not verify:\n%s", out)
	}
	if ok, out := verify(t, cert, filepath.Join(extract(t, msi), "lifeline-agent.exe")); !ok {
		t.Errorf("exe inside the signed MSI does not verify:\n%s", out)
	}
	unsigned := buildMSI(t, "v0.0.1")
	if ok, out := verify(t, cert, unsigned); ok {
		t.Errorf("unsigned MSI verifies:\n%s", out)
	}
	// The signed MSI is still a whole database.
	if f := find(table(t, msi, "File"), "FileName", "lifeline-agent.exe"); f == nil {
		t.Error("signed MSI lost its File table")
	}
}
