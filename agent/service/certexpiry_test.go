package service

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// writeSelfSigned writes a certificate valid until notAfter and its key.
func writeSelfSigned(t *testing.T, dir string, notAfter time.Time) config.TLS {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "SITE01"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	c := config.TLS{CertFile: filepath.Join(dir, "a.crt"), KeyFile: filepath.Join(dir, "a.key"), CAFile: filepath.Join(dir, "a.crt")}
	if err := os.WriteFile(c.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// The agent warns at start when its link certificate expires within 30
// days, and not when it has longer.
func TestCertExpiryWarnsAtStart(t *testing.T) {
	for _, tc := range []struct {
		left time.Duration
		want string
	}{
		{10 * 24 * time.Hour, "expires on"},
		{-time.Hour, "EXPIRED"},
		{90 * 24 * time.Hour, ""},
	} {
		tls := writeSelfSigned(t, t.TempDir(), time.Now().Add(tc.left))
		_, notAfter, err := clientCredentials(tls)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		a := &Agent{logger: slog.New(slog.NewTextHandler(&buf, nil)), certNotAfter: notAfter}
		a.cfg.Aggregator.TLS = tls
		a.warnCertExpiry(time.Now())
		got := buf.String()
		if tc.want == "" && got != "" || tc.want != "" && (!strings.Contains(got, tc.want) || !strings.Contains(got, "level=WARN")) {
			t.Errorf("%v left: logged %q, want %q", tc.left, got, tc.want)
		}
	}
	if CertExpiryWarning(time.Time{}, time.Now()) != "" {
		t.Error("warning without TLS")
	}
}
