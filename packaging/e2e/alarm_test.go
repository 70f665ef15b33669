package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
	agentservice "github.com/lifeline-telemetry/lifeline/agent/service"
	aggconfig "github.com/lifeline-telemetry/lifeline/aggregator/config"
	aggservice "github.com/lifeline-telemetry/lifeline/aggregator/service"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

// scriptedValue is one value of the scripted point: at seconds after the
// script's start (its source time), value.
type scriptedValue struct {
	at    float64
	value float64
}

// alarmRow is one alarm of alarm_events FINAL, times in seconds after the
// script's start.
type alarmRow struct {
	cond            string
	raised, cleared float64
	value, clear    float64
	reason          string
}

func (r alarmRow) String() string {
	return fmt.Sprintf("%s raised %+.2f (value %g) cleared %+.2f (value %g, %s)", r.cond, r.raised, r.value, r.cleared, r.clear, r.reason)
}

// TestAlarmDelaysThroughSubscription: a scripted OPC UA point (H 10,
// deadband 1) read in subscribe mode, so the agent sees changes only, with
// a 3 s on-delay and a 5 s off-delay in the agent's point list. Excursions shorter than
// and exactly as long as the on-delay raise nothing; one a little longer
// raises at onset + 3 s although the next change is the return; a return
// inside the deadband keeps the alarm; returns shorter than the off-delay
// keep it, one longer clears it at return + 5 s, whether the next change
// or the clock decides. Each alarm is compared with its source times.
func TestAlarmDelaysThroughSubscription(t *testing.T) {
	const point, site = "X1.LT", "ALARM01"
	opts := plantsim.DefaultOptions()
	opts.Addr = "127.0.0.1:0"
	opts.ExcursionsPerHour = -1
	opts.Logger = testLogger(t)
	opts.Scripted = []plantsim.PointSpec{{ID: point, Identifier: "Scripted.X1.Level", Name: "脚本液位", Kind: "level",
		Unit: "m", Limits: &config.Limits{High: ptr(10), Deadband: 1, OnDelay: dur(3 * time.Second), OffDelay: dur(5 * time.Second)}}}
	sim := plantsim.New(opts)
	start := time.Now()
	if err := sim.Set(point, 5.0, start); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := sim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer sim.Shutdown(context.Background())

	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	logger := testLogger(t)
	agg, stopAgg := startAlarmAggregator(t, ctx, addr, db, logger)
	defer stopAgg()

	cfg := sim.AgentConfig(agg.Addr(), t.TempDir(), site)
	cfg.Metrics.Listen, cfg.StatusPage.Listen = "", ""
	src := &cfg.Sources[0]
	src.Points = slices.DeleteFunc(src.Points, func(p config.Point) bool { return p.ID != point })
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	agent := agentservice.New(cfg, "e2e", logger.With("process", "agent"))
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- agent.Run(actx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	}()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Auth: clickhouse.Auth{Database: db}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitFor(t, ctx, "the point's catalog and first value stored", func() bool {
		var n uint64
		err := conn.QueryRow(ctx, "SELECT count() FROM points WHERE site_id = ?", site).Scan(&n)
		return err == nil && n > 0 && agent.Stats().Acked > 0
	})
	// The first batch may have come before the catalog: the next one,
	// two seconds on, makes the evaluator read the limits.
	time.Sleep(3 * time.Second)

	base := time.Now().Truncate(time.Second).Add(time.Second)
	script := []scriptedValue{
		{0, 5},
		{1, 11}, {2, 5}, // 1 s: shorter than the on-delay
		{4, 11}, {7, 5}, // exactly 3 s: nothing
		{10, 11}, {13.5, 5}, // 3.5 s: raised at 13, returns at 13.5 …
		{25, 11},          // … and stays returned 11.5 s: cleared at 18.5
		{29, 9.5},         // raised at 28 though the next change is inside the deadband
		{31, 8}, {33, 11}, // a 2 s return keeps it
		{34, 5}, // cleared by the clock at 39
	}
	for _, s := range script {
		at := base.Add(time.Duration(s.at * float64(time.Second)))
		time.Sleep(time.Until(at))
		if err := sim.Set(point, s.value, at); err != nil {
			t.Fatal(err)
		}
	}
	want := []alarmRow{
		{"H", 13, 18.5, 11, 5, "value"},
		{"H", 28, 39, 11, 5, "value"},
	}
	// The clock clears the last at 39 s, decided 5 s (grace) later.
	var got []alarmRow
	for end := base.Add(55 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		got = readAlarms(t, ctx, conn, site, base)
		if len(got) >= len(want) && got[len(got)-1].cleared >= 0 {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("alarms:\n got %v\nwant %v", got, want)
	}
	t.Logf("alarms as scripted: %v", got)
}

func ptr(v float64) *float64 { return &v }

func dur(d time.Duration) *config.Duration { v := config.Duration(d); return &v }

// readAlarms reads the site's alarms, times relative to base.
func readAlarms(t *testing.T, ctx context.Context, conn clickhouse.Conn, site string, base time.Time) []alarmRow {
	t.Helper()
	rows, err := conn.Query(ctx, `SELECT condition, raised_ns, cleared_ns, value, clear_value, end_reason
FROM alarm_events FINAL WHERE site_id = ? ORDER BY raised_ns, condition`, site)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []alarmRow
	for rows.Next() {
		var r alarmRow
		var raised, cleared int64
		if err := rows.Scan(&r.cond, &raised, &cleared, &r.value, &r.clear, &r.reason); err != nil {
			t.Fatal(err)
		}
		r.raised = float64(raised-base.UnixNano()) / 1e9
		r.cleared = -1
		if cleared != 0 {
			r.cleared = float64(cleared-base.UnixNano()) / 1e9
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// startAlarmAggregator is startFlowAggregator with default delays the
// point list must override, and a grace long enough that every decision a
// later sample can make is made by that sample, not by the clock.
func startAlarmAggregator(t *testing.T, ctx context.Context, addr, db string, logger *slog.Logger) (*aggservice.Aggregator, func()) {
	t.Helper()
	cfg := aggconfig.Default()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Server.TLS.Insecure = true
	cfg.ClickHouse.Addr = addr
	cfg.ClickHouse.Database = db
	cfg.Metrics.Listen = ""
	cfg.Alarms.OnDelay, cfg.Alarms.OffDelay, cfg.Alarms.Grace = 20*time.Second, 0, 5*time.Second
	return runAggregator(t, ctx, cfg, logger)
}
