package pki

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"time"
)

// InitOptions describe the application instance certificate Init creates.
type InitOptions struct {
	// ApplicationURI goes into the certificate's subject alternative name
	// and is what the agent presents as its application URI; OPC UA
	// servers check that the two match.
	ApplicationURI string
	// Hosts are DNS names or IP addresses of the agent's machine.
	Hosts []string
	// CommonName is the subject's CN.
	CommonName string
	// Organization is the subject's O (e.g. the plant).
	Organization string
	// Validity is how long the certificate is valid.
	Validity time.Duration
	// KeyBits is the RSA key size (2048 or more).
	KeyBits int
}

// DefaultInitOptions names the agent after the machine it runs on.
func DefaultInitOptions() InitOptions {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return InitOptions{
		ApplicationURI: "urn:" + host + ":lifeline-agent",
		Hosts:          []string{host},
		CommonName:     "lifeline-agent@" + host,
		Organization:   "Lifeline",
		Validity:       5 * 365 * 24 * time.Hour,
		KeyBits:        2048,
	}
}

// ErrExists is returned by Init when the directory already holds an
// application instance certificate.
var ErrExists = errors.New("an application instance certificate already exists")

// Init creates the directory layout and a self-signed application instance
// certificate with its private key. It never replaces an existing
// certificate (ErrExists): servers that trust the agent trust that one.
func (d Dir) Init(o InitOptions) (Own, error) {
	if _, err := os.Stat(d.OwnCertPath()); err == nil {
		return Own{}, fmt.Errorf("%w: %s", ErrExists, d.OwnCertPath())
	}
	u, err := url.Parse(o.ApplicationURI)
	if err != nil || u.Scheme == "" {
		return Own{}, fmt.Errorf("application URI %q: want a URI such as urn:host:lifeline-agent", o.ApplicationURI)
	}
	if o.KeyBits < 2048 {
		o.KeyBits = 2048
	}
	if o.Validity <= 0 {
		o.Validity = DefaultInitOptions().Validity
	}
	if o.CommonName == "" {
		o.CommonName = "lifeline-agent"
	}
	for _, dir := range []string{d.TrustedDir(), d.RejectedDir()} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return Own{}, err
		}
	}
	key, err := rsa.GenerateKey(rand.Reader, o.KeyBits)
	if err != nil {
		return Own{}, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return Own{}, err
	}
	now := time.Now()
	subject := pkix.Name{CommonName: o.CommonName}
	if o.Organization != "" {
		subject.Organization = []string{o.Organization}
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    now.Add(-time.Hour), // tolerate a server whose clock is a little behind
		NotAfter:     now.Add(o.Validity),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment |
			x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{u},
	}
	for _, h := range o.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return Own{}, fmt.Errorf("create certificate: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	// The key first: a certificate without its key would block a retry.
	if err := writeFileAtomic(d.OwnKeyPath(), keyPEM, 0o600); err != nil {
		return Own{}, fmt.Errorf("write private key: %w", err)
	}
	if err := writeFileAtomic(d.OwnCertPath(), der, 0o644); err != nil {
		return Own{}, fmt.Errorf("write certificate: %w", err)
	}
	return d.LoadOwn()
}
