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

// A revoked certificate is refused as soon as the deny-list changes, with
// no restart; refused handshakes are counted by cause and logged once per
// cause however often they repeat, while a good agent keeps being served.
func TestRevocationAndRefusedHandshakes(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	other := filepath.Join(dir, "other")
	for _, step := range []error{
		linkca.Init(ca, "test CA"),
		linkca.Server(ca, dir, "aggregator", []string{"127.0.0.1"}),
		linkca.Agent(ca, dir, "SITE-A"),
		linkca.Agent(ca, dir, "SITE-R"),
		linkca.Init(other, "someone else"),
		linkca.Agent(other, other, "SITE-A"),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	revoked := filepath.Join(ca, linkca.Revoked)
	if err := os.WriteFile(revoked, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	logs := &countingHandler{n: map[string]int{}}
	logger := slog.New(logs)
	f := &fixture{
		ledger: &memLedger{committed: map[string][]*lifelinev1.SeqRange{}, catalogs: map[string][]*lifelinev1.Point{}},
		writer: &heldWriter{added: make(chan struct{}, 100)},
	}
	svc := NewService(f.ledger, f.writer, nil, DefaultOptions(), NewMetrics(nil), logger)
	cfg := DefaultServerConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.TLS = ServerTLS{CertFile: filepath.Join(dir, "aggregator.crt"), KeyFile: filepath.Join(dir, "aggregator.key"),
		ClientCAFile: filepath.Join(ca, linkca.CACert), RevokedFile: revoked}
	recv := NewReceiver(cfg, svc, logger, NewLinkMetrics(prometheus.NewRegistry()))
	if err := recv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = recv.Shutdown(ctx)
	})

	pool := x509.NewCertPool()
	pem, err := os.ReadFile(filepath.Join(ca, linkca.CACert))
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(pem)
	// accepted does one real handshake and reports whether the server
	// went on to speak HTTP/2 (its SETTINGS frame) rather than an alert.
	// open does one real handshake; it returns the connection when the
	// server went on to speak HTTP/2 (its SETTINGS frame), nil on an alert.
	open := func(certDir, site string) *tls.Conn {
		tc := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12, NextProtos: []string{"h2"}}
		if certDir != "" {
			cert, err := tls.LoadX509KeyPair(filepath.Join(certDir, site+".crt"), filepath.Join(certDir, site+".key"))
			if err != nil {
				t.Fatal(err)
			}
			// Sent even when the server does not name its issuer, as an
			// attacker's client would.
			tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
		}
		conn, err := tls.Dial("tcp", recv.Addr(), tc)
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
	accepted := func(certDir, site string) bool {
		conn := open(certDir, site)
		if conn != nil {
			conn.Close()
		}
		return conn != nil
	}
	refused := func(cause string) float64 { return value(t, recv.guard.refused.WithLabelValues(cause)) }
	waitRefused := func(cause string, want float64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for refused(cause) < want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := refused(cause); got != want {
			t.Fatalf("%s refusals = %v, want %v", cause, got, want)
		}
	}

	live := open(dir, "SITE-R")
	if live == nil {
		t.Fatal("SITE-R refused before it was revoked")
	}
	defer live.Close()
	serials, err := linkca.SerialsForSite(ca, "SITE-R")
	if err != nil {
		t.Fatal(err)
	}
	if err := linkca.Revoke(revoked, serials, "test"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if accepted(dir, "SITE-R") {
			t.Fatal("revoked certificate accepted")
		}
	}
	waitRefused(refusedRevoked, 3)
	// The connection SITE-R opened before is cut, not left to live on.
	_ = live.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, err := live.Read(make([]byte, 4096)); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("revoked agent's open connection still up")
			}
			break
		}
	}
	if accepted(other, "SITE-A") {
		t.Fatal("certificate of another CA accepted")
	}
	waitRefused(refusedUnknownCA, 1)
	if accepted("", "") {
		t.Fatal("peer without a certificate accepted")
	}
	waitRefused(refusedNoClientCert, 1)
	// Signed by our CA but not acceptable: a common name no site ID can
	// have (issued before the rule), and an expired certificate.
	signByHand(t, ca, dir, "SITE 01", time.Now().Add(time.Hour))
	if accepted(dir, "SITE 01") {
		t.Fatal("certificate with a common name that is no site ID accepted")
	}
	waitRefused(refusedBadSiteID, 1)
	signByHand(t, ca, dir, "SITE-OLD", time.Now().Add(-time.Minute))
	if accepted(dir, "SITE-OLD") {
		t.Fatal("expired certificate accepted")
	}
	waitRefused(refusedExpired, 1)
	if !accepted(dir, "SITE-A") {
		t.Fatal("good agent refused")
	}
	if got := value(t, recv.guard.revokedSize); got != 1 {
		t.Fatalf("revoked serials gauge %v", got)
	}
	for cause, want := range map[string]int{refusedRevoked: 1, refusedUnknownCA: 1, refusedNoClientCert: 1, refusedBadSiteID: 1,
		refusedExpired: 1, refusedOther: 0} {
		if got := logs.count("TLS handshake refused/" + cause); got != want {
			t.Errorf("%s logged %d times, want %d", cause, got, want)
		}
	}
	if got := logs.count("revoked list reloaded"); got != 1 {
		t.Errorf("reload logged %d times", got)
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
