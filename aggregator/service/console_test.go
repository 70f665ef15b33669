package service

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

// The aggregator serves the console when configured and stops it, with
// every goroutine it started, when it stops.
func TestConsoleServedAndStopped(t *testing.T) {
	addr := chtest.Addr(t)
	database := chtest.Database(t, addr)
	before := goleak.IgnoreCurrent() // after the shared ClickHouse server started
	users := filepath.Join(t.TempDir(), "users.yaml")
	if err := os.WriteFile(users, []byte("parks:\n  P:\n    - name: zhang\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Server.Listen, cfg.Server.TLS.Insecure = "127.0.0.1:0", true
	cfg.ClickHouse.Addr, cfg.ClickHouse.Database = addr, database
	cfg.Metrics.Listen = ""
	cfg.Console.Listen, cfg.Console.UsersFile = "127.0.0.1:0", users
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	agg := New(cfg, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agg.Run(ctx) }()
	select {
	case <-agg.Ready():
	case err := <-done:
		t.Fatalf("aggregator: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("aggregator not ready")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Get("http://" + agg.ConsoleAddr() + "/api/alarms")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("console /api/alarms without login: %d", res.StatusCode)
	}
	client.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("aggregator: %v", err)
	}
	if _, err := client.Get("http://" + agg.ConsoleAddr() + "/"); err == nil {
		t.Fatal("console still serving after the aggregator stopped")
	}
	goleak.VerifyNone(t, before)
}
