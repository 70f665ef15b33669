package e2e

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/service"
)

// The OPC UA server is stopped for 8 s and started again on the same
// port: the agent shows the source down meanwhile, reads it again within
// seconds of its return, and the outage is one source_unavailable row in
// the gaps table, over the source's points, covering the outage.
func TestFaultSourceOutage(t *testing.T) {
	const points = 200
	c := newCluster(t, clusterOptions{points: points, rate: 2})
	c.flowing(2000)

	stopped := time.Now()
	c.sim.Kill()
	c.waitMetric("the source shown down", 15*time.Second, func(m map[string]float64) bool {
		return m[service.MetricSourceConnected] == 0 && m[service.MetricSourceDownSeconds] > 0
	})
	time.Sleep(8*time.Second - time.Since(stopped))
	c.sim = startProc(t, c.dir, "lifeline-plantsim", "run", "--listen", c.simAddr,
		"--points", strconv.Itoa(points), "--rate", "2", "--excursions-per-hour", "-1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.sim.WaitListening(ctx, c.simAddr); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	m := c.waitMetric("the source read again", 15*time.Second, func(m map[string]float64) bool {
		return m[service.MetricSourceConnected] == 1
	})
	if took := time.Since(back); took > 8*time.Second {
		t.Errorf("the source was read again %v after the server came back", took)
	}
	read := m[service.MetricSamplesReadTotal]
	c.waitMetric("samples after the outage", 15*time.Second, func(m map[string]float64) bool {
		return m[service.MetricSamplesReadTotal] > read
	})
	c.assertExactlyOnce(c.finish(), true)

	var fromNs, toNs int64
	var n uint64
	var pts uint64
	err := c.conn().QueryRow(context.Background(),
		"SELECT count(), min(from_ns), max(to_ns), max(length(point_ids)) FROM gaps FINAL WHERE site_id = ? AND reason = 'source_unavailable' AND from_ns < ?",
		c.site, back.UnixNano()).Scan(&n, &fromNs, &toNs, &pts)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || fromNs > stopped.UnixNano() || toNs < back.UnixNano() || pts == 0 {
		t.Fatalf("source_unavailable gaps: %d rows, %v..%v over %d points; want one from before the stop (%v) to after the return (%v)",
			n, time.Unix(0, fromNs), time.Unix(0, toNs), pts, stopped, back)
	}
	t.Logf("outage %v; gap %v, from %v before the stop to %v after the server was back",
		back.Sub(stopped).Round(time.Millisecond), time.Duration(toNs-fromNs).Round(time.Millisecond),
		stopped.Sub(time.Unix(0, fromNs)).Round(time.Millisecond), time.Unix(0, toNs).Sub(back).Round(time.Millisecond))
}
