package ingest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/lifeline-telemetry/lifeline/aggregator/linkca"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// secFixture is the ingest path as an attacker meets it: mutual TLS on
// loopback (or plain text), the writer and a ClickHouse store, with the
// service's log kept for the test to read.
type secFixture struct {
	chFixture
	addr string
	ca   string // certificate directory
	logs *syncBuffer
}

type secSetup struct {
	insecure      bool
	anonymous     bool // a plain-text server that still requires a certificate
	limits        StreamLimits
	heartbeats    time.Duration // flush interval; 0 for none
	maxHeartbeats int           // heartbeat rows held at most; 0: the default
	wrap          func(Ledger, Writer) (Ledger, Writer)
	sites         []string
}

func startSecure(t *testing.T, cfg secSetup) *secFixture {
	t.Helper()
	f := &secFixture{logs: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	addr := chtest.Addr(t)
	scfg := store.DefaultConfig()
	scfg.Addr, scfg.Database = addr, chtest.Database(t, addr)
	st := store.New(scfg, logger)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.Open(ctx); err != nil {
		t.Fatalf("open store: %v", err)
	}
	w := writer.New(st, writer.Options{MaxDelay: 20 * time.Millisecond}, logger)
	bg, stop := context.WithCancel(context.Background())
	var running sync.WaitGroup
	running.Go(func() { _ = w.Run(bg) })
	f.reg = prometheus.NewRegistry()
	m := NewMetrics(f.reg)
	var hb *Heartbeats
	if cfg.heartbeats > 0 {
		hb = NewHeartbeats(st, cfg.heartbeats, m, logger)
		if cfg.maxHeartbeats > 0 {
			hb.maxPending = cfg.maxHeartbeats
		}
		running.Go(func() { hb.Run(bg) })
	}
	opts := DefaultOptions()
	opts.RequirePeerIdentity = !cfg.insecure || cfg.anonymous
	opts.HelloTimeout = cfg.limits.HelloTimeout
	var ledger Ledger = st
	var wr Writer = w
	if cfg.wrap != nil {
		ledger, wr = cfg.wrap(st, w)
	}
	f.store = st
	f.svc = NewService(ledger, wr, hb, opts, m, logger)

	rcfg := DefaultServerConfig()
	rcfg.Listen = "127.0.0.1:0"
	rcfg.Limits = cfg.limits
	if cfg.insecure {
		rcfg.TLS.Insecure = true
	} else {
		f.ca = t.TempDir()
		caDir := filepath.Join(f.ca, "ca")
		must(t, linkca.Init(caDir, "test CA"))
		must(t, linkca.Server(caDir, f.ca, "aggregator", []string{"127.0.0.1"}))
		for _, s := range cfg.sites {
			must(t, linkca.Agent(caDir, f.ca, s))
		}
		rcfg.TLS = ServerTLS{CertFile: filepath.Join(f.ca, "aggregator.crt"), KeyFile: filepath.Join(f.ca, "aggregator.key"),
			ClientCAFile: filepath.Join(caDir, linkca.CACert)}
	}
	recv := NewReceiver(rcfg, f.svc, logger)
	must(t, recv.Start(context.Background()))
	f.addr = recv.Addr()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = recv.Shutdown(ctx)
		_ = w.Drain(ctx)
		stop()
		running.Wait()
		_ = st.Close()
	})
	return f
}

// dial returns a client speaking as site (with its certificate unless the
// fixture is plain text) from the local address from.
func (f *secFixture) dial(t *testing.T, site, from string) lifelinev1.IngestClient {
	t.Helper()
	creds := insecure.NewCredentials()
	if f.ca != "" {
		pool := x509.NewCertPool()
		pem, err := os.ReadFile(filepath.Join(f.ca, "ca", linkca.CACert))
		must(t, err)
		pool.AppendCertsFromPEM(pem)
		cert, err := tls.LoadX509KeyPair(filepath.Join(f.ca, site+".crt"), filepath.Join(f.ca, site+".key"))
		must(t, err)
		creds = credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	dialer := func(ctx context.Context, addr string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		return d.DialContext(ctx, "tcp", addr)
	}
	conn, err := grpc.NewClient(f.addr, grpc.WithTransportCredentials(creds), grpc.WithContextDialer(dialer))
	must(t, err)
	t.Cleanup(func() { conn.Close() })
	return lifelinev1.NewIngestClient(conn)
}

// connectAs opens a stream for site on client and returns it once welcomed.
func (f *secFixture) connectAs(t *testing.T, client lifelinev1.IngestClient, site string) (*agentStream, error) {
	t.Helper()
	f.client = client
	st, _, err := f.connect(t, hello(site, "P1"))
	return st, err
}

// acked proves site is still served: one batch sent, its ack received.
func (f *secFixture) acked(t *testing.T, client lifelinev1.IngestClient, site string) {
	t.Helper()
	st, err := f.connectAs(t, client, site)
	if err != nil {
		t.Fatalf("%s refused: %v", site, err)
	}
	st.send(1, 1, time.Now().Add(-time.Minute))
	if got := st.acks(1); !got[1] {
		t.Fatalf("%s: no ack for batch 1", site)
	}
	st.cancel()
}

// logLines counts the log lines holding every one of parts.
func (f *secFixture) logLines(parts ...string) int {
	n := 0
	for line := range strings.SplitSeq(f.logs.String(), "\n") {
		all := line != ""
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

// labelled returns the value of a counter of the service with one label.
func (f *secFixture) labelled(t *testing.T, name, value string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	must(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
