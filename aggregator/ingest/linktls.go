package ingest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/credentials"

	"github.com/lifeline-telemetry/lifeline/aggregator/linkca"
	"github.com/lifeline-telemetry/lifeline/aggregator/metrics"
)

// Causes of a refused TLS handshake, the cause label of
// lifeline_ingest_tls_refused_total.
const (
	refusedRevoked      = "revoked"
	refusedBadSiteID    = "bad_site_id"
	refusedUnknownCA    = "unknown_ca"
	refusedExpired      = "expired"
	refusedNoClientCert = "no_client_cert"
	refusedOther        = "other"
)

// revokedPollEvery is how often the revoked list is checked for changes
// besides at every handshake.
const revokedPollEvery = 5 * time.Second

// refusalLogEvery bounds the log lines of refused handshakes to one per
// cause per period, so a scanner or a looping revoked agent cannot flood
// the log; the metric counts every one.
const refusalLogEvery = 10 * time.Second

var (
	errRevoked   = errors.New("client certificate revoked")
	errBadSiteID = errors.New("client certificate common name is not a valid site ID")
)

// linkGuard checks agents' certificates beyond the chain (deny-list, site
// ID rule) and logs and counts refused handshakes.
type linkGuard struct {
	revokedFile string
	logger      *slog.Logger
	*LinkMetrics

	mu      sync.Mutex
	modTime time.Time
	size    int64
	revoked map[string]struct{}
	// conns are the open connections by their client certificate's
	// serial, so that revoking a serial also cuts its live connection.
	conns   map[*trackedConn]string
	lastLog map[string]time.Time
	quiet   map[string]int
}

// LinkMetrics are the agent link's TLS metrics.
type LinkMetrics struct {
	refused     *prometheus.CounterVec
	revokedSize prometheus.Gauge
	insecure    prometheus.Gauge
}

// NewLinkMetrics creates the link's metrics and registers them with reg
// (which may be nil).
func NewLinkMetrics(reg prometheus.Registerer) *LinkMetrics {
	m := &LinkMetrics{
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.IngestTLSRefusedTotal, Help: "TLS handshakes of the agent link refused, by cause."}, []string{"cause"}),
		revokedSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metrics.IngestTLSRevokedSerials, Help: "Serials in the deny-list last read from server.tls.revoked_file."}),
		insecure: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metrics.IngestInsecure, Help: "1 while ingest serves plain text without client certificates."}),
	}
	for _, c := range []string{refusedRevoked, refusedBadSiteID, refusedUnknownCA, refusedExpired, refusedNoClientCert, refusedOther} {
		m.refused.WithLabelValues(c)
	}
	if reg != nil {
		reg.MustRegister(m.refused, m.revokedSize, m.insecure)
	}
	return m
}

func newLinkGuard(revokedFile string, logger *slog.Logger, m *LinkMetrics) *linkGuard {
	if m == nil {
		m = NewLinkMetrics(nil)
	}
	return &linkGuard{revokedFile: revokedFile, logger: logger, LinkMetrics: m,
		lastLog: map[string]time.Time{}, quiet: map[string]int{}, conns: map[*trackedConn]string{}}
}

// reload rereads the deny-list when its modification time or size
// changed. A list that cannot be read or parsed keeps the previous one:
// forgetting revocations because of a half-edited file would let a
// revoked agent back in.
func (g *linkGuard) reload() error {
	if g.revokedFile == "" {
		return nil
	}
	st, err := os.Stat(g.revokedFile)
	if err != nil {
		return fmt.Errorf("revoked list: %w", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.revoked != nil && st.ModTime().Equal(g.modTime) && st.Size() == g.size {
		return nil
	}
	data, err := os.ReadFile(g.revokedFile)
	if err != nil {
		return fmt.Errorf("revoked list: %w", err)
	}
	list, err := linkca.ParseRevoked(data)
	if err != nil {
		return fmt.Errorf("revoked list %s: %w", g.revokedFile, err)
	}
	changed := g.revoked != nil
	g.revoked, g.modTime, g.size = list, st.ModTime(), st.Size()
	g.revokedSize.Set(float64(len(list)))
	if changed {
		g.logger.Info("revoked list reloaded", "file", g.revokedFile, "serials", len(list))
	}
	for c, serial := range g.conns {
		if _, bad := list[serial]; bad {
			delete(g.conns, c)
			g.logger.Warn("closing the connection of a revoked certificate", "serial", serial, "site", c.site, "remote", c.RemoteAddr().String())
			_ = c.Conn.Close()
		}
	}
	return nil
}

// watch rereads the revoked list every period until stop closes.
func (g *linkGuard) watch(stop <-chan struct{}, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := g.reload(); err != nil {
				g.logger.Error("keeping the previous revoked list", "err", err)
			}
		}
	}
}

// trackedConn is an accepted connection the guard may cut on revocation.
type trackedConn struct {
	net.Conn
	guard *linkGuard
	site  string
	once  sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.guard.mu.Lock()
		delete(c.guard.conns, c)
		c.guard.mu.Unlock()
	})
	return c.Conn.Close()
}

// track registers an accepted connection under its client serial.
func (g *linkGuard) track(conn net.Conn, info credentials.AuthInfo) net.Conn {
	ti, ok := info.(credentials.TLSInfo)
	if !ok || len(ti.State.PeerCertificates) == 0 {
		return conn
	}
	leaf := ti.State.PeerCertificates[0]
	c := &trackedConn{Conn: conn, guard: g, site: leaf.Subject.CommonName}
	g.mu.Lock()
	g.conns[c] = linkca.SerialText(leaf.SerialNumber)
	g.mu.Unlock()
	return c
}

// verifyConnection runs after the chain is verified, on every handshake.
func (g *linkGuard) verifyConnection(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return nil // RequireAndVerifyClientCert refuses that before us
	}
	leaf := cs.PeerCertificates[0]
	if err := linkca.ValidSiteID(leaf.Subject.CommonName); err != nil {
		return fmt.Errorf("%w: %w", errBadSiteID, err)
	}
	if err := g.reload(); err != nil {
		g.logger.Error("keeping the previous revoked list", "err", err)
	}
	g.mu.Lock()
	_, revoked := g.revoked[linkca.SerialText(leaf.SerialNumber)]
	g.mu.Unlock()
	if revoked {
		return fmt.Errorf("%w: serial %s (site %q)", errRevoked, linkca.SerialText(leaf.SerialNumber), leaf.Subject.CommonName)
	}
	return nil
}

// refusal records a refused handshake: counted always, logged at most
// once per cause per refusalLogEvery with how many went unlogged.
func (g *linkGuard) refusal(remote net.Addr, err error) {
	cause := refusalCause(err)
	g.refused.WithLabelValues(cause).Inc()
	now := time.Now()
	g.mu.Lock()
	if now.Sub(g.lastLog[cause]) < refusalLogEvery {
		g.quiet[cause]++
		g.mu.Unlock()
		return
	}
	g.lastLog[cause] = now
	quiet := g.quiet[cause]
	g.quiet[cause] = 0
	g.mu.Unlock()
	addr := ""
	if remote != nil {
		addr = remote.String()
	}
	g.logger.Warn("TLS handshake refused", "cause", cause, "remote", addr, "err", err, "unlogged_since_last", quiet)
}

func refusalCause(err error) string {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.Is(err, errRevoked):
		return refusedRevoked
	case errors.Is(err, errBadSiteID):
		return refusedBadSiteID
	case errors.As(err, &unknown):
		return refusedUnknownCA
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return refusedExpired
	case strings.Contains(err.Error(), "didn't provide a certificate"):
		return refusedNoClientCert
	}
	return refusedOther
}

// guardedCreds wraps the server's TLS credentials to see every refused
// handshake, which gRPC otherwise drops with the connection.
type guardedCreds struct {
	credentials.TransportCredentials
	guard *linkGuard
}

func (c guardedCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	out, info, err := c.TransportCredentials.ServerHandshake(conn)
	if err != nil {
		c.guard.refusal(conn.RemoteAddr(), err)
		return out, info, err
	}
	return c.guard.track(out, info), info, nil
}

func (c guardedCreds) Clone() credentials.TransportCredentials {
	return guardedCreds{TransportCredentials: c.TransportCredentials.Clone(), guard: c.guard}
}

// serverCredentials builds the link's mutual TLS: our CA's client
// certificates only, with a site ID as common name, not revoked.
func serverCredentials(c ServerTLS, g *linkGuard) (credentials.TransportCredentials, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load server certificate: %w", err)
	}
	pem, err := os.ReadFile(c.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("read client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("client CA %s: no PEM certificates found", c.ClientCAFile)
	}
	if err := g.reload(); err != nil {
		return nil, err
	}
	return guardedCreds{guard: g, TransportCredentials: credentials.NewTLS(&tls.Config{
		Certificates:     []tls.Certificate{cert},
		ClientCAs:        pool,
		ClientAuth:       tls.RequireAndVerifyClientCert,
		MinVersion:       tls.VersionTLS12,
		VerifyConnection: g.verifyConnection,
	})}, nil
}
