package service

import (
	"context"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/aggregator/forward"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

// With forward.targets set, `run` reports to the platform beside ingest and
// exports the forwarder's metrics on its own listener.
func TestRunForwardsWhenConfigured(t *testing.T) {
	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	var beats atomic.Int32
	platform := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/heartbeat/91320500MA1TEST01X") {
			beats.Add(1)
		}
	}))
	defer platform.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, certPEM(platform.Certificate().Raw), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg := config.Default()
	cfg.Server.Listen, cfg.Server.TLS.Insecure = "127.0.0.1:0", true
	cfg.ClickHouse.Addr, cfg.ClickHouse.Database = addr, db
	cfg.Metrics.Listen = "127.0.0.1:0"
	cfg.Forward.Targets = []forward.Target{{Name: "province", Transport: "https", Sites: []string{"plant-a"},
		TLS: forward.TLS{CAFile: ca}, Templates: "../../packaging/config/forward", HeartbeatEvery: 200 * time.Millisecond,
		Dest: map[string]string{forward.KindHeartbeat: platform.URL + "/heartbeat/{{.Enterprise.Code}}"}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	st := store.New(cfg.Store(), nil)
	if err := st.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := st.SaveForwardCodes(context.Background(), []store.ForwardCode{{Target: "province", Kind: forward.CodeEnterprise,
		LocalID: "plant-a", Code: "91320500MA1TEST01X"}})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}

	agg := New(cfg, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agg.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("aggregator: %v", err)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for beats.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no heartbeats reached the platform")
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get("http://" + agg.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `lifeline_forward_sent_total{kind="heartbeat",target="province"}`) {
		t.Errorf("no forwarder metrics on the aggregator's listener")
	}
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
