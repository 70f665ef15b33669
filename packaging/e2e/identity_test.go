package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	agentservice "github.com/lifeline-telemetry/lifeline/agent/service"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// TestWipedBufferExactlyOnce: an agent runs, its buffer directory is wiped
// (a replaced PC, a reinstall), and an agent with the same site starts on
// the empty directory. Its batch numbers start over; none of its samples
// may be taken for the old buffer's and dropped. Every sample either agent
// received is in ClickHouse exactly once.
func TestWipedBufferExactlyOnce(t *testing.T) {
	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logger := testLogger(t)

	sim := startFlowPlant(t, ctx, 100, logger)
	defer sim.Shutdown(context.Background())
	agg, stopAgg := startFlowAggregator(t, ctx, addr, db, logger)
	defer stopAgg()

	bufDir := t.TempDir()
	rec := &recorder{samples: map[sampleKey]*lifelinev1.Sample{}}
	run := func(name string, d time.Duration, last bool) {
		cfg := sim.AgentConfig(agg.Addr(), bufDir, "WIPE01")
		cfg.Metrics.Listen = ""
		cfg.StatusPage.Listen = ""
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		agent := agentservice.New(cfg, "e2e", logger.With("process", name), agentservice.WithTap(rec.tap))
		actx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- agent.Run(actx) }()
		time.Sleep(d)
		if last {
			if err := sim.Shutdown(ctx); err != nil {
				t.Fatalf("stop plantsim: %v", err)
			}
		}
		// Drain: everything stored is acked and deleted.
		waitFor(t, ctx, name+" to drain", func() bool {
			st := agent.Stats()
			return st.Stored > 0 && st.BufferEntries == 0 && st.Acked >= st.Stored-st.Stored/10
		})
		if last {
			waitFor(t, ctx, name+" to drain", func() bool { return agent.Stats().BufferEntries == 0 })
		}
		stop()
		if err := <-done; err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	run("agent-a", 6*time.Second, false)
	if err := os.RemoveAll(bufDir); err != nil {
		t.Fatal(err)
	}
	run("agent-b", 6*time.Second, true)

	want, total := rec.snapshot()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Auth: clickhouse.Auth{Database: db}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var rows, distinct, final uint64
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(point_id, ts_ns), (SELECT count() FROM samples FINAL WHERE site_id = 'WIPE01') FROM samples WHERE site_id = 'WIPE01'").
		Scan(&rows, &distinct, &final); err != nil {
		t.Fatal(err)
	}
	t.Logf("agents received %d samples (%d distinct); ClickHouse holds %d rows, %d distinct, %d FINAL", total, len(want), rows, distinct, final)
	if rows != uint64(len(want)) || distinct != rows || final != rows {
		t.Fatalf("ClickHouse holds %d rows (%d distinct, %d FINAL), agents received %d distinct samples", rows, distinct, final, len(want))
	}
}
