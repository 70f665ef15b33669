package ingest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lifeline-telemetry/lifeline/aggregator/linkca"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// countingHandler counts log records by message and cause.
type countingHandler struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *countingHandler) WithGroup(string) slog.Handler            { return h }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	key := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "cause" {
			key += "/" + a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	h.n[key]++
	h.mu.Unlock()
	return nil
}

func (h *countingHandler) count(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[key]
}

// linkRig is a receiver on loopback with mutual TLS and a revoked list,
// and the certificates to attack it with.
type linkRig struct {
	t                    *testing.T
	dir, ca, other, list string
	recv                 *Receiver
	logs                 *countingHandler
	pool                 *x509.CertPool
}

func newLinkRig(t *testing.T) *linkRig {
	dir := t.TempDir()
	r := &linkRig{t: t, dir: dir, ca: filepath.Join(dir, "ca"), other: filepath.Join(dir, "other"),
		logs: &countingHandler{n: map[string]int{}}}
	for _, step := range []error{
		linkca.Init(r.ca, "test CA"),
		linkca.Server(r.ca, dir, "aggregator", []string{"127.0.0.1"}),
		linkca.Agent(r.ca, dir, "SITE-A"),
		linkca.Agent(r.ca, dir, "SITE-R"),
		linkca.Init(r.other, "someone else"),
		linkca.Agent(r.other, r.other, "SITE-A"),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	r.list = filepath.Join(r.ca, linkca.Revoked)
	if err := os.WriteFile(r.list, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(r.logs)
	ledger := &memLedger{committed: map[string][]*lifelinev1.SeqRange{}, catalogs: map[string][]*lifelinev1.Point{}}
	svc := NewService(ledger, &heldWriter{added: make(chan struct{}, 100)}, nil, DefaultOptions(), NewMetrics(nil), logger)
	cfg := DefaultServerConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.TLS = ServerTLS{CertFile: filepath.Join(dir, "aggregator.crt"), KeyFile: filepath.Join(dir, "aggregator.key"),
		ClientCAFile: filepath.Join(r.ca, linkca.CACert), RevokedFile: r.list}
	r.recv = NewReceiver(cfg, svc, logger, NewLinkMetrics(prometheus.NewRegistry()))
	if err := r.recv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = r.recv.Shutdown(ctx)
	})
	r.pool = x509.NewCertPool()
	pem, err := os.ReadFile(filepath.Join(r.ca, linkca.CACert))
	if err != nil {
		t.Fatal(err)
	}
	r.pool.AppendCertsFromPEM(pem)
	return r
}

// open does one real handshake; it returns the connection when the
// server went on to speak HTTP/2 (its SETTINGS frame), nil on an alert.
func (r *linkRig) open(certDir, site string) *tls.Conn {
	tc := &tls.Config{RootCAs: r.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12, NextProtos: []string{"h2"}}
	if certDir != "" {
		cert, err := tls.LoadX509KeyPair(filepath.Join(certDir, site+".crt"), filepath.Join(certDir, site+".key"))
		if err != nil {
			r.t.Fatal(err)
		}
		// Sent even when the server does not name its issuer, as an
		// attacker's client would.
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	conn, err := tls.Dial("tcp", r.recv.Addr(), tc)
	if err != nil {
		return nil
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); err != nil || n != 1 {
		conn.Close()
		return nil
	}
	return conn
}

func (r *linkRig) accepted(certDir, site string) bool {
	conn := r.open(certDir, site)
	if conn != nil {
		conn.Close()
	}
	return conn != nil
}

// waitRefused waits for the refusals of cause to reach want (the server
// counts after the client sees the alert) and checks it goes no further.
func (r *linkRig) waitRefused(cause string, want float64) {
	r.t.Helper()
	refused := func() float64 { return value(r.t, r.recv.guard.refused.WithLabelValues(cause)) }
	deadline := time.Now().Add(5 * time.Second)
	for refused() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := refused(); got != want {
		r.t.Fatalf("%s refusals = %v, want %v", cause, got, want)
	}
}

// A revoked certificate is refused as soon as the deny-list changes, with
// no restart, and its open connection is cut; a good agent keeps being
// served.
func TestRevocationWithoutRestart(t *testing.T) {
	r := newLinkRig(t)
	live := r.open(r.dir, "SITE-R")
	if live == nil {
		t.Fatal("SITE-R refused before it was revoked")
	}
	defer live.Close()
	serials, err := linkca.SerialsForSite(r.ca, "SITE-R")
	if err != nil {
		t.Fatal(err)
	}
	if err := linkca.Revoke(r.list, serials, "test"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r.accepted(r.dir, "SITE-R") {
			t.Fatal("revoked certificate accepted")
		}
	}
	r.waitRefused(refusedRevoked, 3)
	_ = live.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, err := live.Read(make([]byte, 4096)); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("revoked agent's open connection still up")
			}
			break
		}
	}
	if !r.accepted(r.dir, "SITE-A") {
		t.Fatal("good agent refused")
	}
	if got := value(t, r.recv.guard.revokedSize); got != 1 {
		t.Fatalf("revoked serials gauge %v", got)
	}
	if got := r.logs.count("TLS handshake refused/" + refusedRevoked); got != 1 {
		t.Errorf("3 revoked handshakes logged %d times, want 1", got)
	}
	if got := r.logs.count("revoked list reloaded"); got != 1 {
		t.Errorf("reload logged %d times", got)
	}
}

// Each kind of bad client certificate is refused, counted under its cause
// and logged once.
func TestRefusedHandshakesByCause(t *testing.T) {
	r := newLinkRig(t)
	if r.accepted(r.other, "SITE-A") {
		t.Fatal("certificate of another CA accepted")
	}
	r.waitRefused(refusedUnknownCA, 1)
	if r.accepted("", "") {
		t.Fatal("peer without a certificate accepted")
	}
	r.waitRefused(refusedNoClientCert, 1)
	// Signed by our CA but not acceptable: a common name no site ID can
	// have (issued before the rule), and an expired certificate.
	signByHand(t, r.ca, r.dir, "SITE 01", time.Now().Add(time.Hour))
	if r.accepted(r.dir, "SITE 01") {
		t.Fatal("certificate with a common name that is no site ID accepted")
	}
	r.waitRefused(refusedBadSiteID, 1)
	signByHand(t, r.ca, r.dir, "SITE-OLD", time.Now().Add(-time.Minute))
	if r.accepted(r.dir, "SITE-OLD") {
		t.Fatal("expired certificate accepted")
	}
	r.waitRefused(refusedExpired, 1)
	if !r.accepted(r.dir, "SITE-A") {
		t.Fatal("good agent refused")
	}
	for cause, want := range map[string]int{refusedUnknownCA: 1, refusedNoClientCert: 1, refusedBadSiteID: 1,
		refusedExpired: 1, refusedRevoked: 0, refusedOther: 0} {
		if got := r.logs.count("TLS handshake refused/" + cause); got != want {
			t.Errorf("%s logged %d times, want %d", cause, got, want)
		}
	}
}

// signByHand issues a client certificate with the CA in caDir the way
// linkca would not: any common name, any expiry.
func signByHand(t *testing.T, caDir, out, cn string, notAfter time.Time) {
	t.Helper()
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(caDir, name))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode(data)
		return b.Bytes
	}
	ca, err := x509.ParseCertificate(read(linkca.CACert))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := x509.ParseECPrivateKey(read(linkca.CAKey))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: notAfter.Add(-48 * time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, cn+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, cn+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// Without any handshake to reread it, the poll of the revoked list cuts a
// revoked agent's open connection.
func TestRevokedListPolled(t *testing.T) {
	r := newLinkRig(t)
	live := r.open(r.dir, "SITE-R")
	if live == nil {
		t.Fatal("SITE-R refused before it was revoked")
	}
	defer live.Close()
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		r.recv.guard.watch(stop, 20*time.Millisecond)
	}()
	defer func() { close(stop); <-done }()
	serials, err := linkca.SerialsForSite(r.ca, "SITE-R")
	if err != nil {
		t.Fatal(err)
	}
	if err := linkca.Revoke(r.list, serials, "test"); err != nil {
		t.Fatal(err)
	}
	_ = live.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		if _, err := live.Read(make([]byte, 4096)); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("revoked agent's open connection still up")
			}
			break
		}
	}
	if got := r.logs.count("closing the connection of a revoked certificate"); got != 1 {
		t.Fatalf("cut logged %d times", got)
	}
}
