// Package linkca issues the certificates of the agent–aggregator link: a CA,
// the aggregator's server certificate, and one client certificate per site
// whose common name is the site ID (the aggregator checks it on every stream).
package linkca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/lifeline-telemetry/lifeline/proto/atomicfile"
)

// File names inside a CA directory.
const (
	CACert = "ca.crt"
	CAKey  = "ca.key"
)

// Validity periods. The CA outlives every certificate it signs; a leaf
// lasts two years so that a lost key stops working on its own and renewal
// ('certs agent --force') is a routine the operator practises. Agents warn
// 30 days before their certificate expires.
const (
	caValidity   = 20 * 365 * 24 * time.Hour
	LeafValidity = 2 * 365 * 24 * time.Hour
)

// Init creates a CA in dir. It refuses to overwrite an existing one, since
// every certificate it signed would stop being trusted.
func Init(dir, name string) error {
	if _, err := os.Stat(filepath.Join(dir, CAKey)); err == nil {
		return fmt.Errorf("a CA already exists in %s", dir)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Lifeline"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("create CA certificate: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeKey(filepath.Join(dir, CAKey), key); err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, CACert), "CERTIFICATE", der, 0o644)
}

// Server issues the aggregator's certificate for the given DNS names and IP
// addresses, writing name.crt and name.key into out; it never replaces an
// existing key.
func Server(caDir, out, name string, hosts []string) error {
	return IssueServer(caDir, out, name, hosts, false)
}

// IssueServer is Server that replaces an existing key when force (renewal).
func IssueServer(caDir, out, name string, hosts []string, force bool) error {
	if len(hosts) == 0 {
		return errors.New("at least one host name or IP address is required")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0], Organization: []string{"Lifeline"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	_, err := issue(caDir, out, name, tmpl, force, nil)
	return err
}

// Agent issues a site's client certificate (its common name is the site
// ID), never replacing an existing key.
func Agent(caDir, out, site string) error {
	_, err := IssueAgent(caDir, out, site, false)
	return err
}

// IssueAgent issues a site's client certificate: its common name is the site ID.
// It refuses a site ID the aggregator would refuse, and to replace an
// existing key unless force (renewal). The new certificate's serial is
// recorded in the CA's issued list for 'certs revoke --site'.
func IssueAgent(caDir, out, site string, force bool) (*x509.Certificate, error) {
	if err := ValidSiteID(site); err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: site, Organization: []string{"Lifeline"}, OrganizationalUnit: []string{"agent"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return issue(caDir, out, site, tmpl, force, func(cert *x509.Certificate) error { return record(caDir, cert) })
}

// issue signs a certificate from tmpl and writes it and its key to out.
// recorded, when given, is told of the certificate before either file is
// written: a certificate on disk is then always one the CA can revoke
// (written the other way round, a crash or a read-only issued list left
// a valid certificate 'certs revoke --site' could not find).
func issue(caDir, out, name string, tmpl *x509.Certificate, force bool, recorded func(*x509.Certificate) error) (*x509.Certificate, error) {
	keyPath := filepath.Join(out, name+".key")
	if _, err := os.Lstat(keyPath); err == nil && !force {
		return nil, fmt.Errorf("%s exists: refusing to replace it without --force", keyPath)
	}
	ca, caKey, err := load(caDir)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(LeafValidity)
	if tmpl.NotAfter.After(ca.NotAfter) {
		tmpl.NotAfter = ca.NotAfter
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("sign certificate for %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse new certificate for %s: %w", name, err)
	}
	if recorded != nil {
		if err := recorded(cert); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	if err := writeKey(keyPath, key); err != nil {
		return nil, err
	}
	return cert, writePEM(filepath.Join(out, name+".crt"), "CERTIFICATE", der, 0o644)
}

func load(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CACert))
	if err != nil {
		return nil, nil, fmt.Errorf("read CA (create one with 'certs init'): %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKey))
	if err != nil {
		return nil, nil, fmt.Errorf("read CA key: %w", err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("CA in %s: not PEM", dir)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse CA key: %w", err)
	}
	return cert, key, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "EC PRIVATE KEY", der, 0o600)
}

// writePEM replaces path with der PEM-encoded as kind, crash-safely.
func writePEM(path, kind string, der []byte, mode os.FileMode) error {
	return atomicfile.Write(path, mode, func(w io.Writer) error {
		return pem.Encode(w, &pem.Block{Type: kind, Bytes: der})
	})
}
