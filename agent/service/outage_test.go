package service

import (
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/opcua"
	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
)

// The OPC UA server stops for a few seconds: /metrics shows the source
// down while it is, and the source_unavailable gap covering the outage
// reaches the aggregator in a batch, like every other gap record.
func TestSourceOutageReachesTheAggregator(t *testing.T) {
	simAddr := freeAddr(t)
	agg := newAggregator(t)
	agg.start(t)
	sim := startSim(t, plantsim.Options{Addr: simAddr})
	rec := &tapped{}
	a, _ := runAgent(t, agentConfig(sim, agg.addr, t.TempDir()), rec.tap)
	waitFor(t, "samples acked", 20*time.Second, func() bool { return a.Stats().Acked > 0 })
	if m := scrape(t, a); m["lifeline_agent_source_connected/plantsim"] != 1 {
		t.Fatalf("source not shown connected: %v", m["lifeline_agent_source_connected/plantsim"])
	}

	stopped := time.Now()
	if err := sim.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/metrics to show the source down", 5*time.Second, func() bool {
		m := scrape(t, a)
		return m["lifeline_agent_source_connected/plantsim"] == 0 && m["lifeline_agent_source_down_seconds/plantsim"] > 0
	})
	time.Sleep(3*time.Second - time.Since(stopped))
	restarted := time.Now()
	startSim(t, plantsim.Options{Addr: simAddr})
	waitFor(t, "the gap at the aggregator", 15*time.Second, func() bool { return len(agg.gapsOf(opcua.GapSourceUnavailable)) > 0 })
	gaps := agg.gapsOf(opcua.GapSourceUnavailable)
	g := gaps[0]
	if len(gaps) != 1 || g.FromNs > stopped.UnixNano() || g.ToNs < restarted.UnixNano() || len(g.PointIds) != len(sim.Catalog()) {
		t.Fatalf("gaps %v: want one from before %v to after %v over %d points", gaps, stopped, restarted, len(sim.Catalog()))
	}
	m := scrape(t, a)
	if m["lifeline_agent_source_connected/plantsim"] != 1 || m["lifeline_agent_source_down_seconds/plantsim"] != 0 ||
		m["lifeline_agent_source_outages_total/plantsim"] != 1 {
		t.Fatalf("after the outage: connected %v, down %vs, outages %v", m["lifeline_agent_source_connected/plantsim"],
			m["lifeline_agent_source_down_seconds/plantsim"], m["lifeline_agent_source_outages_total/plantsim"])
	}
}
