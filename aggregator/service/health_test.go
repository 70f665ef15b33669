package service

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/proto/obs/obstest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// runAggregator runs an aggregator on loopback against ClickHouse at addr
// until the test ends, and returns it once its metrics server listens.
func runAggregator(t *testing.T, addr string) *Aggregator {
	t.Helper()
	cfg := config.Default()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Server.TLS.Insecure = true
	cfg.ClickHouse.Addr = addr
	cfg.ClickHouse.Database = "lifeline"
	cfg.ClickHouse.DialTimeout = time.Second
	cfg.Metrics.Listen = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	agg := New(cfg, logger)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agg.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("aggregator: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for agg.MetricsAddr() == "" {
		if time.Now().After(deadline) {
			t.Fatal("metrics server not started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return agg
}

// /readyz follows ClickHouse: 503 while the aggregator waits for it at
// start, 200 once it is connected and migrated and ingest serves, 503
// while it is stopped, 200 again when it is back, and 503 when the
// database lacks a table of this version's schema. /healthz stays 200:
// restarting the aggregator would not bring ClickHouse back.
func TestReadyzFollowsClickHouse(t *testing.T) {
	// Registered first, so it runs after every other cleanup has stopped
	// the aggregator and ClickHouse.
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
	ch := chtest.Private(t)
	if err := ch.Stop(); err != nil {
		t.Fatal(err)
	}
	agg := runAggregator(t, ch.Addr())
	base := "http://" + agg.MetricsAddr()
	healthy := func(when string) {
		t.Helper()
		if code, body := obstest.Probe(t, base+"/healthz"); code != 200 || body != "ok\n" {
			t.Fatalf("/healthz %s: %d %q", when, code, body)
		}
	}
	obstest.WaitProbe(t, base+"/readyz", "not ready while ClickHouse is down at start", 5*time.Second, 503,
		"[-]clickhouse failed: not connected yet (waiting for ClickHouse at "+ch.Addr(),
		"[-]schema failed: not checked yet", "[-]grpc failed: not listening yet")
	healthy("while ClickHouse is down at start")

	if err := ch.Start(); err != nil {
		t.Fatal(err)
	}
	<-agg.Ready()
	obstest.WaitProbe(t, base+"/readyz?verbose", "ready once ClickHouse is up", 30*time.Second, 200,
		"[+]writer_loop ok", "[+]clickhouse ok: "+ch.Addr()+" answers (ClickHouse ", "[+]schema ok: database lifeline is current",
		"[+]grpc ok: serving on "+agg.Addr())

	if err := ch.Stop(); err != nil {
		t.Fatal(err)
	}
	obstest.WaitProbe(t, base+"/readyz", "not ready once ClickHouse stopped", 10*time.Second, 503, "[-]clickhouse failed: ping clickhouse")
	healthy("while ClickHouse is stopped")

	if err := ch.Start(); err != nil {
		t.Fatal(err)
	}
	obstest.WaitProbe(t, base+"/readyz", "ready once ClickHouse is back", 30*time.Second, 200, "ok")

	conn := chtest.Conn(t, ch.Addr(), "lifeline")
	if err := conn.Exec(t.Context(), "DROP TABLE sites"); err != nil {
		t.Fatal(err)
	}
	obstest.WaitProbe(t, base+"/readyz", "not ready without the sites table", 10*time.Second, 503,
		"[+]clickhouse ok", "[-]schema failed: migrations not applied: database lifeline lacks sites (run lifeline-aggregator migrate)")
}
