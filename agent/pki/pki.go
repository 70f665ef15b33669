// Package pki keeps the agent's OPC UA certificates in a directory laid
// out the way other OPC UA applications lay theirs out:
//
//	DIR/own/certs/lifeline-agent.der     the application instance certificate
//	DIR/own/private/lifeline-agent.pem   its RSA private key (mode 0600)
//	DIR/trusted/certs/                   server certificates (or their CAs) the operator trusts
//	DIR/rejected/certs/                  server certificates that were presented but not trusted
//
// A server certificate is trusted when the same certificate (DER or PEM)
// is in trusted/certs, or when it is signed by a CA certificate there. An
// untrusted certificate is saved to rejected/certs so that the operator
// can inspect it and move it with Trust.
package pki

import (
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names inside the directory.
const (
	ownCertName = "lifeline-agent.der"
	ownKeyName  = "lifeline-agent.pem"
)

// Dir is a PKI directory. The zero value is unusable; it does no I/O
// until a method is called.
type Dir struct {
	Root string
}

// OwnCertPath is the file of the application instance certificate (DER).
func (d Dir) OwnCertPath() string { return filepath.Join(d.Root, "own", "certs", ownCertName) }

// OwnKeyPath is the file of its private key (PEM, PKCS #1).
func (d Dir) OwnKeyPath() string { return filepath.Join(d.Root, "own", "private", ownKeyName) }

// TrustedDir holds trusted certificates.
func (d Dir) TrustedDir() string { return filepath.Join(d.Root, "trusted", "certs") }

// RejectedDir holds rejected certificates.
func (d Dir) RejectedDir() string { return filepath.Join(d.Root, "rejected", "certs") }

// Own is the agent's application instance identity.
type Own struct {
	// Cert is the certificate in DER form, Parsed the same, parsed.
	Cert   []byte
	Parsed *x509.Certificate
	Key    *rsa.PrivateKey
	// ApplicationURI is the certificate's URI subject alternative name,
	// which the agent must present as its application URI.
	ApplicationURI string
}

// ErrNoCertificate means the directory holds no application instance
// certificate yet.
var ErrNoCertificate = errors.New("no application instance certificate")

// LoadOwn reads the application instance certificate and key.
func (d Dir) LoadOwn() (Own, error) {
	certData, err := os.ReadFile(d.OwnCertPath())
	if errors.Is(err, os.ErrNotExist) {
		return Own{}, fmt.Errorf("%w in %s (create one with: lifeline-agent certs init --pki %s)", ErrNoCertificate, d.Root, d.Root)
	}
	if err != nil {
		return Own{}, fmt.Errorf("read certificate: %w", err)
	}
	der, err := decodeCert(certData)
	if err != nil {
		return Own{}, fmt.Errorf("certificate %s: %w", d.OwnCertPath(), err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Own{}, fmt.Errorf("certificate %s: %w", d.OwnCertPath(), err)
	}
	keyData, err := os.ReadFile(d.OwnKeyPath())
	if err != nil {
		return Own{}, fmt.Errorf("read private key: %w", err)
	}
	key, err := ParseKey(keyData)
	if err != nil {
		return Own{}, fmt.Errorf("private key %s: %w", d.OwnKeyPath(), err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return Own{}, fmt.Errorf("private key %s does not belong to certificate %s", d.OwnKeyPath(), d.OwnCertPath())
	}
	if len(cert.URIs) == 0 {
		return Own{}, fmt.Errorf("certificate %s has no application URI (subject alternative name URI)", d.OwnCertPath())
	}
	return Own{Cert: der, Parsed: cert, Key: key, ApplicationURI: cert.URIs[0].String()}, nil
}

// ParseKey parses an RSA private key in PEM (PKCS #1 or PKCS #8) or DER.
func ParseKey(data []byte) (*rsa.PrivateKey, error) {
	der := data
	if b, _ := pem.Decode(data); b != nil {
		der = b.Bytes
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("not an RSA private key in PEM or DER")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, OPC UA needs RSA", k)
	}
	return rk, nil
}

// ParseCertFile reads a certificate file in DER or PEM form.
func ParseCertFile(path string) ([]byte, *x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	der, err := decodeCert(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return der, cert, nil
}

// decodeCert returns the DER of a DER or PEM certificate.
func decodeCert(data []byte) ([]byte, error) {
	if b, _ := pem.Decode(data); b != nil {
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q, want CERTIFICATE", b.Type)
		}
		return b.Bytes, nil
	}
	if len(data) == 0 {
		return nil, errors.New("empty file")
	}
	return data, nil
}

// Thumbprint is the certificate's SHA-1 thumbprint in upper-case hex, the
// form OPC UA tools show.
func Thumbprint(der []byte) string {
	sum := sha1.Sum(der)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// fileName names a certificate file the way OPC UA tools do: the subject's
// common name and the thumbprint.
func fileName(cert *x509.Certificate, der []byte) string {
	cn := cert.Subject.CommonName
	var b strings.Builder
	for _, r := range cn {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('_')
		}
	}
	name := b.String()
	if name == "" {
		name = "cert"
	}
	return fmt.Sprintf("%s [%s].der", name, Thumbprint(der))
}

// UntrustedError says that a server presented a certificate the directory
// does not trust. Path is where the certificate was saved, PKIDir the
// directory that must trust it.
type UntrustedError struct {
	Subject    string
	Thumbprint string
	Path       string
	PKIDir     string
	Reason     string
}

func (e *UntrustedError) Error() string {
	msg := fmt.Sprintf("server certificate %q (thumbprint %s) is not trusted", e.Subject, e.Thumbprint)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Path != "" {
		msg += fmt.Sprintf("; saved to %s; if it is your server's certificate, trust it with: %s", e.Path, e.TrustCommand())
	}
	return msg
}

// TrustCommand is the command that trusts the saved certificate. It names
// the PKI directory: without --pki, certs trust writes to the default one,
// which an agent configured with another pki_dir never reads.
func (e *UntrustedError) TrustCommand() string {
	return fmt.Sprintf("lifeline-agent certs trust --pki %q %q", e.PKIDir, e.Path)
}

// Verify decides whether the server certificate der is trusted at time
// now. An untrusted certificate is written to rejected/certs and an
// *UntrustedError is returned.
func (d Dir) Verify(der []byte, now time.Time) error {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("server certificate: %w", err)
	}
	reason, err := d.untrustedReason(cert, der, now)
	if err != nil {
		return err
	}
	if reason == "" {
		return nil
	}
	root, err := filepath.Abs(d.Root)
	if err != nil {
		root = d.Root
	}
	ue := &UntrustedError{Subject: cert.Subject.String(), Thumbprint: Thumbprint(der), PKIDir: root, Reason: reason}
	path := filepath.Join(d.RejectedDir(), fileName(cert, der))
	if _, err := os.Stat(path); err != nil {
		if err := writeFileAtomic(path, der, 0o644); err != nil {
			return fmt.Errorf("%v (and saving it failed: %w)", ue, err)
		}
	}
	ue.Path = path
	return ue
}

// untrustedReason is "" for a trusted certificate.
func (d Dir) untrustedReason(cert *x509.Certificate, der []byte, now time.Time) (string, error) {
	trusted, err := d.trusted()
	if err != nil {
		return "", err
	}
	if now.Before(cert.NotBefore) {
		return fmt.Sprintf("not valid before %s (check the clocks)", cert.NotBefore.UTC().Format(time.RFC3339)), nil
	}
	if now.After(cert.NotAfter) {
		return fmt.Sprintf("expired on %s", cert.NotAfter.UTC().Format(time.RFC3339)), nil
	}
	roots := x509.NewCertPool()
	cas := 0
	for _, t := range trusted {
		if string(t.Raw) == string(der) {
			return "", nil
		}
		if t.IsCA {
			roots.AddCert(t)
			cas++
		}
	}
	if cas > 0 {
		_, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err == nil {
			return "", nil
		}
	}
	return "not in " + d.TrustedDir(), nil
}

// trusted reads every certificate in trusted/certs; unreadable files are
// skipped.
func (d Dir) trusted() ([]*x509.Certificate, error) {
	entries, err := os.ReadDir(d.TrustedDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read trusted certificates: %w", err)
	}
	var out []*x509.Certificate
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		_, cert, err := ParseCertFile(filepath.Join(d.TrustedDir(), e.Name()))
		if err == nil {
			out = append(out, cert)
		}
	}
	return out, nil
}

// Trust copies the certificate in file (DER or PEM) into trusted/certs
// and removes it from rejected/certs. It returns the trusted file's path.
func (d Dir) Trust(file string) (string, error) {
	der, cert, err := ParseCertFile(file)
	if err != nil {
		return "", fmt.Errorf("read certificate: %w", err)
	}
	name := fileName(cert, der)
	path := filepath.Join(d.TrustedDir(), name)
	if err := writeFileAtomic(path, der, 0o644); err != nil {
		return "", fmt.Errorf("trust certificate: %w", err)
	}
	rejected := filepath.Join(d.RejectedDir(), name)
	if err := os.Remove(rejected); err != nil && !errors.Is(err, os.ErrNotExist) {
		return path, fmt.Errorf("remove %s: %w", rejected, err)
	}
	return path, nil
}
