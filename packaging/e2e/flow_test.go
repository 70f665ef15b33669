package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
	agentservice "github.com/lifeline-telemetry/lifeline/agent/service"
	aggconfig "github.com/lifeline-telemetry/lifeline/aggregator/config"
	aggservice "github.com/lifeline-telemetry/lifeline/aggregator/service"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// sampleKey is a sample's identity: one point at one source time.
type sampleKey struct {
	point string
	ts    int64
}

// recorder keeps every sample the agent's readers delivered.
type recorder struct {
	mu      sync.Mutex
	samples map[sampleKey]*lifelinev1.Sample
	total   int
}

func (r *recorder) tap(samples []*lifelinev1.Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range samples {
		r.samples[sampleKey{s.GetPointId(), s.GetSourceTimeNs()}] = s
		r.total++
	}
}

func (r *recorder) snapshot() (map[sampleKey]*lifelinev1.Sample, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.samples, r.total
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// TestFlowExactlyOnce runs plantsim (≥ 500 points at 2 Hz) → agent →
// aggregator → ClickHouse for 20 s and checks that ClickHouse holds every
// sample the agent received, once, with its value and source time.
func TestFlowExactlyOnce(t *testing.T) {
	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logger := testLogger(t)

	sim := startFlowPlant(t, ctx, 500, logger)
	defer sim.Shutdown(context.Background())
	agg, stopAgg := startFlowAggregator(t, ctx, addr, db, logger)
	defer stopAgg()

	agentCfg := sim.AgentConfig(agg.Addr(), t.TempDir(), "E2E01")
	agentCfg.Metrics.Listen = ""
	agentCfg.StatusPage.Listen = ""
	if err := agentCfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{samples: map[sampleKey]*lifelinev1.Sample{}}
	agent := agentservice.New(agentCfg, "e2e", logger.With("process", "agent"), agentservice.WithTap(rec.tap))
	agentCtx, stopAgent := context.WithCancel(ctx)
	agentDone := make(chan error, 1)
	go func() { agentDone <- agent.Run(agentCtx) }()
	defer func() { stopAgent(); <-agentDone }()

	time.Sleep(20 * time.Second)
	// No new values from here on: the agent drains what it has.
	if err := sim.Shutdown(ctx); err != nil {
		t.Fatalf("stop plantsim: %v", err)
	}
	_, received := rec.snapshot()
	waitFor(t, ctx, "agent to drain", func() bool {
		st := agent.Stats()
		_, n := rec.snapshot()
		return n == received && st.Stored == uint64(n) && st.Acked == uint64(n) && st.BufferEntries == 0
	})
	stopAgent()
	if err := <-agentDone; err != nil {
		t.Fatalf("agent: %v", err)
	}
	agentDone <- nil // for the deferred stop, which waits on it again

	want, total := rec.snapshot()
	if total < 500*2*15 {
		t.Fatalf("agent received only %d samples in 20 s; want at least %d", total, 500*2*15)
	}
	if len(want) != total {
		t.Fatalf("agent received %d samples but only %d distinct (point, source time)", total, len(want))
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Auth: clickhouse.Auth{Database: db}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	var rows, distinct uint64
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(point_id, ts_ns) FROM samples WHERE site_id = 'E2E01'").Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	t.Logf("agent received %d samples; ClickHouse holds %d rows, %d distinct", total, rows, distinct)
	if rows != uint64(total) || distinct != rows {
		t.Fatalf("ClickHouse holds %d rows (%d distinct), agent received %d", rows, distinct, total)
	}
	checkStoredAsReceived(t, ctx, conn, want, total)
}

// startFlowPlant starts a simulator of 500 points at 2 Hz on a free port;
// the caller shuts it down.
func startFlowPlant(t *testing.T, ctx context.Context, points int, logger *slog.Logger) *plantsim.Sim {
	t.Helper()
	opts := plantsim.DefaultOptions()
	opts.Addr = "127.0.0.1:0"
	opts.Points = points
	opts.Rate = 2
	opts.Logger = logger
	sim := plantsim.New(opts)
	if err := sim.Start(ctx); err != nil {
		t.Fatalf("start plantsim: %v", err)
	}
	return sim
}

// startFlowAggregator runs an in-process aggregator on database db and
// waits until it listens. stop ends it and waits for Run to return; the
// caller defers it so the agent (deferred later) stops first.
func startFlowAggregator(t *testing.T, ctx context.Context, addr, db string, logger *slog.Logger) (agg *aggservice.Aggregator, stop func()) {
	t.Helper()
	aggCfg := aggconfig.Default()
	aggCfg.Server.Listen = "127.0.0.1:0"
	aggCfg.Server.TLS.Insecure = true
	aggCfg.ClickHouse.Addr = addr
	aggCfg.ClickHouse.Database = db
	aggCfg.Metrics.Listen = ""
	return runAggregator(t, ctx, aggCfg, logger)
}

// runAggregator runs an in-process aggregator with aggCfg and waits until
// it listens; stop as for startFlowAggregator.
func runAggregator(t *testing.T, ctx context.Context, aggCfg aggconfig.Config, logger *slog.Logger) (agg *aggservice.Aggregator, stop func()) {
	t.Helper()
	if err := aggCfg.Validate(); err != nil {
		t.Fatal(err)
	}
	agg = aggservice.New(aggCfg, logger.With("process", "aggregator"))
	aggCtx, stopAgg := context.WithCancel(ctx)
	aggDone := make(chan error, 1)
	go func() { aggDone <- agg.Run(aggCtx) }()
	stop = func() { stopAgg(); <-aggDone }
	select {
	case <-agg.Ready():
	case err := <-aggDone:
		t.Fatalf("aggregator: %v", err)
	case <-ctx.Done():
		stop()
		t.Fatal("aggregator not ready")
	}
	return agg, stop
}

// checkStoredAsReceived reads every row of the site back and fails on any
// the agent never received or whose value, type or status differ from what
// it received.
func checkStoredAsReceived(t *testing.T, ctx context.Context, conn clickhouse.Conn, want map[sampleKey]*lifelinev1.Sample, total int) {
	t.Helper()
	it, err := conn.Query(ctx, "SELECT point_id, ts_ns, value, value_text, toString(value_type), status FROM samples WHERE site_id = 'E2E01'")
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var checked int
	for it.Next() {
		var (
			point, text, typ string
			ts               int64
			value            float64
			status           uint32
		)
		if err := it.Scan(&point, &ts, &value, &text, &typ, &status); err != nil {
			t.Fatal(err)
		}
		s, ok := want[sampleKey{point, ts}]
		if !ok {
			t.Fatalf("row %s @ %d was never received by the agent", point, ts)
		}
		if err := sameValue(s, value, text, typ); err != nil {
			t.Fatalf("%s @ %d: %v", point, ts, err)
		}
		if status != s.GetStatus() {
			t.Fatalf("%s @ %d: status %#x, agent received %#x", point, ts, status, s.GetStatus())
		}
		checked++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if checked != total {
		t.Fatalf("checked %d rows, want %d", checked, total)
	}
}

func sameValue(s *lifelinev1.Sample, value float64, text, typ string) error {
	switch v := s.GetValue().(type) {
	case *lifelinev1.Sample_Number:
		if typ != "number" || value != v.Number {
			return fmt.Errorf("stored %s %v, received number %v", typ, value, v.Number)
		}
	case *lifelinev1.Sample_Flag:
		want := 0.0
		if v.Flag {
			want = 1
		}
		if typ != "bool" || value != want {
			return fmt.Errorf("stored %s %v, received bool %v", typ, value, v.Flag)
		}
	case *lifelinev1.Sample_Text:
		if typ != "text" || text != v.Text || !math.IsNaN(value) {
			return fmt.Errorf("stored %s %q, received text %q", typ, text, v.Text)
		}
	}
	return nil
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
