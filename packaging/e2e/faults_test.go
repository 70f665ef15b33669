package e2e

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	agentservice "github.com/lifeline-telemetry/lifeline/agent/service"
)

// The fault-injection suite: each scenario runs plantsim → agent → proxy →
// aggregator → ClickHouse as real processes, injects one fault mid-stream,
// recovers, lets the agent drain, and checks exactly-once delivery.

func TestFaultAgentKilled(t *testing.T) {
	c := newCluster(t, clusterOptions{points: 1000, rate: 2})
	c.flowing(2000)
	for range 3 {
		time.Sleep(time.Duration(500+rand.IntN(2500)) * time.Millisecond)
		c.agent.Kill()
		time.Sleep(time.Duration(rand.IntN(1000)) * time.Millisecond)
		c.startAgent()
		c.flowing(1000)
	}
	c.assertExactlyOnce(c.finish(), false)
}

func TestFaultAggregatorKilled(t *testing.T) {
	c := newCluster(t, clusterOptions{points: 1000, rate: 2})
	c.flowing(2000)
	for range 2 {
		time.Sleep(time.Duration(500+rand.IntN(2000)) * time.Millisecond)
		c.agg.Kill()
		time.Sleep(2 * time.Second) // the agent buffers meanwhile
		c.startAggregator()
		c.waitMetric("reconnect", 60*time.Second, func(m map[string]float64) bool { return m[agentservice.MetricUplinkConnected] == 1 })
	}
	c.assertExactlyOnce(c.finish(), true)
}

func TestFaultClickHouseDown(t *testing.T) {
	c := newCluster(t, clusterOptions{points: 1000, rate: 2, ownServer: true})
	c.flowing(2000)
	if err := c.ch.Stop(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	before := c.metrics()[agentservice.MetricSamplesReadTotal]
	time.Sleep(20 * time.Second)
	// The agent kept reading and buffering while nothing could be stored.
	m := c.metrics()
	if m[agentservice.MetricSamplesReadTotal] <= before || m[agentservice.MetricBufferBatches] == 0 {
		t.Fatalf("agent did not keep reading and buffering during the outage: %v", m)
	}
	if err := c.ch.Start(); err != nil {
		t.Fatal(err)
	}
	t.Logf("ClickHouse down for %s", time.Since(down).Round(time.Second))
	c.assertExactlyOnce(c.finish(), true)
}

func TestFaultLinkHardClose(t *testing.T) {
	c := newCluster(t, clusterOptions{points: 1000, rate: 2})
	c.flowing(2000)
	for range 3 {
		time.Sleep(time.Duration(500+rand.IntN(1500)) * time.Millisecond)
		c.proxy.setMode(refuse)
		c.proxy.cut()
		time.Sleep(2 * time.Second)
		c.proxy.setMode(forward)
	}
	c.assertExactlyOnce(c.finish(), true)
}

// A black hole accepts packets and answers nothing, like a half-open WAN
// link: only keepalives can tell.
func TestFaultLinkBlackHole(t *testing.T) {
	c := newCluster(t, clusterOptions{points: 1000, rate: 2})
	c.flowing(2000)
	c.proxy.setMode(blackhole)
	start := time.Now()
	c.waitMetric("the agent to notice the dead link", 60*time.Second, func(m map[string]float64) bool {
		return m[agentservice.MetricUplinkConnected] == 0
	})
	t.Logf("dead link detected after %s", time.Since(start).Round(100*time.Millisecond))
	c.proxy.cut()
	c.proxy.setMode(forward)
	c.waitMetric("reconnect", 60*time.Second, func(m map[string]float64) bool { return m[agentservice.MetricUplinkConnected] == 1 })
	c.assertExactlyOnce(c.finish(), true)
}

// Acks lost after commit: the aggregator stores batches but the agent never
// hears. After reconnecting, the agent learns they are committed and
// deletes them without sending them again.
func TestFaultAckLostAfterCommit(t *testing.T) {
	c := newCluster(t, clusterOptions{points: 1000, rate: 2})
	c.flowing(2000)
	conn := c.conn()
	var before uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM samples WHERE site_id = ?", c.site).Scan(&before); err != nil {
		t.Fatal(err)
	}
	c.proxy.setMode(dropDown)
	// Batches keep arriving and committing while no ack gets back.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var now uint64
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM samples WHERE site_id = ?", c.site).Scan(&now); err != nil {
			t.Fatal(err)
		}
		if now > before+2000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no batches committed while acks were dropped")
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.proxy.cut()
	c.proxy.setMode(forward)
	c.assertExactlyOnce(c.finish(), true)
}

// A long outage fills the bounded buffer: the oldest data goes and a gap
// record says exactly how much.
func TestFaultBufferFull(t *testing.T) {
	c := newCluster(t, clusterOptions{points: 2000, rate: 5, bufferBytes: 2 << 20})
	c.flowing(2000)
	c.proxy.setMode(refuse)
	c.proxy.cut()
	c.waitMetric("the buffer to overflow", 90*time.Second, func(m map[string]float64) bool {
		return m[agentservice.MetricSamplesDroppedTotal] > 20000
	})
	c.proxy.setMode(forward)
	k := c.assertExactlyOnce(c.finish(), true)
	if k.gapSamples == 0 {
		t.Fatal("no gap recorded")
	}
}

// After an outage, fresh data is queryable before the backlog is through.
func TestFaultLiveFirst(t *testing.T) {
	c := newCluster(t, clusterOptions{points: 5000, rate: 2})
	c.flowing(5000)
	c.proxy.setMode(refuse)
	c.proxy.cut()
	c.waitMetric("a backlog", 120*time.Second, func(m map[string]float64) bool {
		return m[agentservice.MetricBacklogSamples] > 200000
	})
	backlog := c.metrics()[agentservice.MetricBacklogSamples]
	restored := time.Now()
	c.proxy.setMode(forward)

	conn := c.conn()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var live, backfill uint64
		if err := conn.QueryRow(context.Background(),
			"SELECT countIf(backfill = 0 AND ts_ns > ?), countIf(backfill = 1) FROM samples WHERE site_id = ?",
			restored.UnixNano(), c.site).Scan(&live, &backfill); err != nil {
			t.Fatal(err)
		}
		if live > 0 {
			t.Logf("first live rows %s after the link came back, with %d of ~%.0f backlog rows stored", time.Since(restored).Round(10*time.Millisecond), backfill, backlog)
			if float64(backfill) >= backlog*0.9 {
				t.Fatalf("live data arrived only after the backlog (%d of ~%.0f back-filled rows already stored)", backfill, backlog)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no live rows within 60 s of the link coming back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.assertExactlyOnce(c.finish(), true)
}
