package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	agentconfig "github.com/lifeline-telemetry/lifeline/agent/config"
	agentservice "github.com/lifeline-telemetry/lifeline/agent/service"
)

// The reload scenarios: a real agent process is sent SIGHUP while the
// plant simulator's data flows through a real aggregator into ClickHouse.

func loadID(n int) string { return fmt.Sprintf("LOAD.P%05d", n) }

// keepPoints returns a config hook that keeps the plant's points and the
// load points for which keep is true, and lets edit change the rest.
func keepPoints(keep func(n int) bool, edit func(p *agentconfig.Point, n int)) func(*agentconfig.Config) {
	return func(cfg *agentconfig.Config) {
		src := &cfg.Sources[0]
		src.Points = slices.DeleteFunc(src.Points, func(p agentconfig.Point) bool {
			var n int
			if _, err := fmt.Sscanf(p.ID, "LOAD.P%05d", &n); err != nil {
				return false // a plant point
			}
			return !keep(n)
		})
		for i := range src.Points {
			var n int
			if _, err := fmt.Sscanf(src.Points[i].ID, "LOAD.P%05d", &n); err == nil && edit != nil {
				edit(&src.Points[i], n)
			}
		}
	}
}

func (c *cluster) hangup() {
	c.t.Helper()
	if err := syscall.Kill(c.agent.Pid(), syscall.SIGHUP); err != nil {
		c.t.Fatal(err)
	}
}

// TestReloadPointsWhileFlowing rewrites the agent's point list while data
// flows — 20 load points removed, 20 added, one with a new sampling
// interval, one described differently — and sends SIGHUP. Every sample the
// agent read reaches ClickHouse once; the unchanged points' samples run on
// without a gap; the new points' samples arrive and are not refused (the
// catalog reached the aggregator first); the removed points stop; and the
// OPC UA session and subscriptions were not restarted.
func TestReloadPointsWhileFlowing(t *testing.T) {
	const points = 200
	c := newCluster(t, clusterOptions{points: points, rate: 2,
		agent: keepPoints(func(n int) bool { return n <= points-20 }, nil)})
	c.flowing(3000)
	before := c.metrics()

	c.opts.agent = keepPoints(func(n int) bool { return n > 20 }, func(p *agentconfig.Point, n int) {
		switch n {
		case 21:
			p.SamplingInterval = agentconfig.Duration(200 * time.Millisecond)
		case 22:
			p.Description = "重载后的描述"
		}
	})
	c.writeAgentConfig()
	reloaded := time.Now()
	c.hangup()
	m := c.waitMetric("the reload", 30*time.Second, func(m map[string]float64) bool {
		return m[agentservice.MetricConfigReloadTotal] == 1 && m[agentservice.MetricConfigLastReloadSeconds] > before[agentservice.MetricConfigLastReloadSeconds]
	})
	applied := time.Now()
	t.Logf("reload applied %s after SIGHUP", applied.Sub(reloaded).Round(time.Millisecond))
	acked := m[agentservice.MetricSamplesAckedTotal]
	c.waitMetric("data after the reload", 60*time.Second, func(m map[string]float64) bool {
		return m[agentservice.MetricSamplesAckedTotal] >= acked+3000
	})
	during := c.metrics()
	if during[agentservice.MetricSourceMonitoredItems] != before[agentservice.MetricSourceMonitoredItems] {
		t.Errorf("%v monitored items after the reload, %v before (20 removed, 20 added)", during[agentservice.MetricSourceMonitoredItems], before[agentservice.MetricSourceMonitoredItems])
	}
	for _, name := range []string{agentservice.MetricSourceSessionsTotal, agentservice.MetricSourceSubscriptionsTotal} {
		if during[name] != before[name] {
			t.Errorf("%s went from %v to %v over the reload: the OPC UA session or subscription was restarted", name, before[name], during[name])
		}
	}
	// LOAD.P00021's item is replaced (gopcua's server cannot modify one),
	// so its current value may come again; a re-created subscription would
	// send every point's.
	if d := during[agentservice.MetricSamplesDuplicateTotal] - before[agentservice.MetricSamplesDuplicateTotal]; d > 1 {
		t.Errorf("%v values re-sent over the reload: items of unchanged points were re-created", d)
	}
	// Each subscribing session logs this once, whichever reader opened it.
	if n := strings.Count(c.agent.Tail(1<<20), "OPC UA subscription running"); n != 1 {
		t.Errorf("%d OPC UA subscriptions started in the agent's life, want 1", n)
	}
	if t.Failed() {
		t.FailNow()
	}
	final := c.finish()
	k := c.assertExactlyOnce(final, true)
	if r := final[agentservice.MetricSamplesRejectedTotal]; r != 0 {
		t.Errorf("the aggregator refused %v samples (new points sent before their catalog?)", r)
	}
	if k.gapSamples != 0 {
		t.Errorf("%d samples recorded lost", k.gapSamples)
	}
	c.checkReloadedRows(reloaded, applied, points)
	if n := strings.Count(c.agent.Tail(1<<20), "configuration reloaded"); n != 1 {
		t.Errorf("agent logged %d reloads, want 1", n)
	}
}

// checkReloadedRows checks ClickHouse around the reload, signalled at t0
// and seen applied at applied.
func (c *cluster) checkReloadedRows(t0, applied time.Time, points int) {
	t := c.t
	conn := c.conn()
	ctx := context.Background()
	rows, err := conn.Query(ctx, "SELECT point_id, ts_ns FROM samples WHERE site_id = ? AND point_id LIKE 'LOAD.P%' AND ts_ns > ? ORDER BY point_id, ts_ns",
		c.site, t0.Add(-3*time.Second).UnixNano())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	times := map[string][]int64{}
	for rows.Next() {
		var id string
		var ts int64
		if err := rows.Scan(&id, &ts); err != nil {
			t.Fatal(err)
		}
		times[id] = append(times[id], ts)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	settled := applied.Add(2 * time.Second).UnixNano()
	for n := 1; n <= points; n++ {
		id, ts := loadID(n), times[loadID(n)]
		switch {
		case n <= 20: // removed
			if len(ts) == 0 {
				t.Errorf("%s: no samples before its removal", id)
			} else if last := ts[len(ts)-1]; last > settled {
				t.Errorf("%s: removed, but a sample from %s", id, time.Unix(0, last).Sub(t0))
			}
		case n > points-20: // added
			if len(ts) < 5 {
				t.Errorf("%s: added, but only %d samples stored", id, len(ts))
			}
		case n > 22: // unchanged: 2 Hz without a break
			if len(ts) < 10 {
				t.Errorf("%s: %d samples around the reload", id, len(ts))
			}
			for i := 1; i < len(ts); i++ {
				if gap := time.Duration(ts[i] - ts[i-1]); gap > 1500*time.Millisecond {
					t.Errorf("%s: %s without a sample at %s after the reload", id, gap, time.Unix(0, ts[i-1]).Sub(t0).Round(time.Millisecond))
				}
			}
		}
	}
	var desc string
	if err := conn.QueryRow(ctx, "SELECT description FROM points FINAL WHERE site_id = ? AND point_id = ?", c.site, loadID(22)).Scan(&desc); err != nil {
		t.Fatal(err)
	}
	if desc != "重载后的描述" {
		t.Errorf("%s description in the registry %q: the new catalog did not reach the aggregator", loadID(22), desc)
	}
	var added uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM points FINAL WHERE site_id = ? AND point_id LIKE 'LOAD.P%' AND point_id >= ?", c.site, loadID(points-19)).Scan(&added); err != nil {
		t.Fatal(err)
	}
	if added != 20 {
		t.Errorf("%d of the 20 added points in the registry", added)
	}
}

// TestReloadRefusals sends SIGHUP with an invalid file, then with one
// that changes the buffer section: each time the agent logs one error
// naming the problem, counts it, keeps its configuration and keeps
// delivering. A valid file then applies.
func TestReloadRefusals(t *testing.T) {
	c := newCluster(t, clusterOptions{points: 20, rate: 2})
	c.flowing(200)
	good, err := os.ReadFile(c.agentConfig)
	if err != nil {
		t.Fatal(err)
	}
	start := c.metrics()[agentservice.MetricConfigLastReloadSeconds]

	steps := []struct {
		name, file, logged string
	}{
		{"invalid", strings.Replace(string(good), "nsu=urn:lifeline:plantsim;s=Load.P00001", "ns=2;s=Load.P00001", 1), "uses a namespace index"},
		{"restart_required", strings.Replace(string(good), "max_bytes: ", "max_bytes: 1", 1), "buffer changed: these take effect only when the agent restarts"},
	}
	for i, step := range steps {
		writeFile(t, c.agentConfig, step.file)
		c.hangup()
		m := c.waitMetric(step.name+" reload counted", 30*time.Second, func(m map[string]float64) bool {
			return m[agentservice.MetricConfigReloadTotal] == float64(i+1)
		})
		if m[agentservice.MetricConfigLastReloadSeconds] != start {
			t.Errorf("%s: last successful reload moved", step.name)
		}
		acked := m[agentservice.MetricSamplesAckedTotal]
		c.waitMetric("data after the refused reload", 30*time.Second, func(m map[string]float64) bool {
			return m[agentservice.MetricSamplesAckedTotal] >= acked+100
		})
		log := c.agent.Tail(1 << 20)
		if n := strings.Count(log, "configuration NOT reloaded"); n != i+1 {
			t.Errorf("%s: %d refusals logged in all, want %d", step.name, n, i+1)
		}
		if !strings.Contains(log, step.logged) || !strings.Contains(log, "result="+step.name) {
			t.Errorf("%s: the log does not say %q:\n%s", step.name, step.logged, c.agent.Tail(2000))
		}
	}
	writeFile(t, c.agentConfig, string(good))
	c.hangup()
	c.waitMetric("the valid reload", 30*time.Second, func(m map[string]float64) bool {
		return m[agentservice.MetricConfigReloadTotal] == 3 && m[agentservice.MetricConfigLastReloadSeconds] > start
	})
	c.reloadAggregator()
	c.assertExactlyOnce(c.finish(), true)
}

// reloadAggregator sends the aggregator SIGHUP with an invalid file, then
// with one whose writer section changed: it says so, and serves on.
func (c *cluster) reloadAggregator() {
	t := c.t
	good, err := os.ReadFile(c.aggConfig)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct{ file, logged string }{
		{string(good) + "writer: {max_rows: -1}\n", "configuration NOT reloaded"},
		{string(good) + "writer: {max_rows: 5000}\n", "take effect only when the aggregator restarts"},
	}
	for _, step := range steps {
		writeFile(t, c.aggConfig, step.file)
		if err := syscall.Kill(c.agg.Pid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(c.agg.Tail(1<<20), step.logged) {
			if time.Now().After(deadline) {
				t.Fatalf("aggregator did not log %q after SIGHUP:\n%s", step.logged, c.agg.Tail(3000))
			}
			time.Sleep(100 * time.Millisecond)
		}
		acked := c.metrics()[agentservice.MetricSamplesAckedTotal]
		c.waitMetric("acks after the aggregator's reload", 30*time.Second, func(m map[string]float64) bool {
			return m[agentservice.MetricSamplesAckedTotal] >= acked+100
		})
	}
	if !strings.Contains(c.agg.Tail(1<<20), "sections=writer") {
		t.Errorf("aggregator did not name the writer section:\n%s", c.agg.Tail(3000))
	}
}
