package ingest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/lifeline-telemetry/lifeline/aggregator/linkca"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// With mutual TLS an agent may write only for the site its certificate
// names, and a peer without a certificate of our CA is not served at all.
func TestMutualTLSIdentity(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	if err := linkca.Init(ca, "test CA"); err != nil {
		t.Fatal(err)
	}
	if err := linkca.Server(ca, dir, "aggregator", []string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if err := linkca.Agent(ca, dir, "SITE-A"); err != nil {
		t.Fatal(err)
	}
	// A certificate from another CA, as a peer that is not ours would have.
	other := filepath.Join(dir, "other")
	if err := linkca.Init(other, "someone else"); err != nil {
		t.Fatal(err)
	}
	if err := linkca.Agent(other, other, "SITE-A"); err != nil {
		t.Fatal(err)
	}

	f := &fixture{
		ledger: &memLedger{committed: map[string][]*lifelinev1.SeqRange{}, catalogs: map[string][]*lifelinev1.Point{}},
		writer: &heldWriter{added: make(chan struct{}, 100)},
	}
	logger := slog.New(slog.DiscardHandler)
	svc := NewService(f.ledger, f.writer, nil, DefaultOptions(), NewMetrics(nil), logger)
	cfg := DefaultServerConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.TLS = ServerTLS{CertFile: filepath.Join(dir, "aggregator.crt"), KeyFile: filepath.Join(dir, "aggregator.key"), ClientCAFile: filepath.Join(ca, linkca.CACert)}
	recv := NewReceiver(cfg, svc, logger)
	if err := recv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = recv.Shutdown(ctx)
	})

	dial := func(certDir, site string) lifelinev1.IngestClient {
		pool := x509.NewCertPool()
		pem, err := os.ReadFile(filepath.Join(ca, linkca.CACert))
		if err != nil {
			t.Fatal(err)
		}
		pool.AppendCertsFromPEM(pem)
		tc := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
		if certDir != "" {
			cert, err := tls.LoadX509KeyPair(filepath.Join(certDir, site+".crt"), filepath.Join(certDir, site+".key"))
			if err != nil {
				t.Fatal(err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		conn, err := grpc.NewClient(recv.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(tc)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return lifelinev1.NewIngestClient(conn)
	}
	helloAs := func(client lifelinev1.IngestClient, site string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := client.Stream(ctx)
		if err != nil {
			return err
		}
		if err := st.Send(hello(site, "A")); err != nil {
			_, err = st.Recv()
			return err
		}
		msg, err := st.Recv()
		if err == nil && msg.GetWelcome() == nil {
			t.Fatalf("want welcome, got %v", msg)
		}
		st.CloseSend()
		return err
	}

	ours := dial(dir, "SITE-A")
	if err := helloAs(ours, "SITE-A"); err != nil {
		t.Fatalf("own site refused: %v", err)
	}
	if err := helloAs(ours, "SITE-B"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("writing for another site: %v, want PermissionDenied", err)
	}
	if err := helloAs(dial("", ""), "SITE-A"); err == nil {
		t.Fatal("a peer without a client certificate was served")
	}
	if err := helloAs(dial(other, "SITE-A"), "SITE-A"); err == nil {
		t.Fatal("a certificate from another CA was accepted")
	}
}
