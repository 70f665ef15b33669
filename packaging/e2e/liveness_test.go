package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	agentservice "github.com/lifeline-telemetry/lifeline/agent/service"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

// TestSteadyPointOnline: a point that never changes sends one value, yet
// every whole minute the agent reads it lands in point_liveness, and the
// online-rate count of query 06 sees those minutes online; the counter,
// online by its samples, is not listed.
func TestSteadyPointOnline(t *testing.T) {
	endpoint := startHistoryServer(t)
	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	logger := testLogger(t)
	agg, stopAgg := startFlowAggregator(t, ctx, addr, db, logger)
	defer stopAgg()

	agent := agentservice.New(nodeAgentConfig(t, "LIVE01", endpoint, agg.Addr()), "e2e", logger.With("process", "agent"))
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
	waitFor(t, ctx, "samples stored", func() bool { return agent.Stats().Acked > 0 })
	first := time.Now().Truncate(time.Minute).Add(time.Minute) // the first whole minute read
	var steady, counter, sampled uint64
	waitFor(t, ctx, "a liveness row of the steady point", func() bool {
		err := conn.QueryRow(ctx, `SELECT countIf(point_id = 'STEADY' AND minute = ?), countIf(point_id = 'CNT'),
       (SELECT count() FROM samples WHERE site_id = 'LIVE01' AND point_id = 'STEADY' AND ts >= ?)
FROM point_liveness WHERE site_id = 'LIVE01'`, first, first, first).Scan(&steady, &counter, &sampled)
		return err == nil && steady > 0
	})
	if counter != 0 || sampled != 0 {
		t.Fatalf("counter listed alive %d times; steady point sampled %d times after %v", counter, sampled, first)
	}
	var online uint64
	if err := conn.QueryRow(ctx, `SELECT uniqExact(minute) FROM (
    SELECT point_id, bucket AS minute FROM samples_1m WHERE site_id = 'LIVE01' AND bucket = ?
    GROUP BY point_id, bucket HAVING countMerge(samples) - sumMerge(bad) > 0
    UNION ALL
    SELECT point_id, minute FROM point_liveness WHERE site_id = 'LIVE01' AND minute = ?)
WHERE point_id = 'STEADY'`, first, first).Scan(&online); err != nil {
		t.Fatal(err)
	}
	if online != 1 {
		t.Fatalf("the steady point's minute %v: %d online, want 1", first, online)
	}
	t.Logf("steady point alive in %v, stored in point_liveness", first.UTC())
}
