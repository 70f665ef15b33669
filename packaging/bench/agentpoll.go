package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	agentconfig "github.com/lifeline-telemetry/lifeline/agent/config"
	agentservice "github.com/lifeline-telemetry/lifeline/agent/service"
	"github.com/lifeline-telemetry/lifeline/packaging/launch"
)

// The MaxNodesPerRead plantsim states in the polled runs: gopcua's server
// default, and what DCS vendors' servers commonly allow. A client splits
// each poll into Reads of at most that many nodes.
const (
	gopcuaMaxNodesPerRead = 32
	polledMaxNodesPerRead = 1000
)

// polledRun is what one polled agent run measured.
type polledRun struct {
	agent, sim  Usage
	read, acked float64 // samples/s
	window      time.Duration
}

// agentPolled runs the agent with read_mode poll over plantsim's 10,000
// load points once a second, against a server allowing 1,000 nodes per
// Read and then against gopcua's default of 32, and measures what polling
// costs it.
func (r *Runner) agentPolled(ctx context.Context, sec *Section) error {
	m, err := r.polledRun(ctx, "lifeline_bench_agent_polled", polledMaxNodesPerRead)
	if err != nil {
		return err
	}
	const points, interval = 10_000, time.Second
	versus := fmt.Sprintf("%s points polled every %s", human(points), interval)
	sec.add(Row{Measure: "polled agent CPU (10,000 points, poll_interval 1s, 1,000 nodes per Read)", Value: m.agent.CPUCores, Unit: "cores",
		Target: "< 0.1", Met: atMost(m.agent.CPUCores, polledCPUTarget)})
	sec.add(Row{Measure: "polled agent: samples read", Value: m.read, Unit: "samples/s", Versus: versus, Ratio: m.read / points * interval.Seconds()})
	sec.add(Row{Measure: "polled agent: samples acked", Value: m.acked, Unit: "samples/s"})
	sec.add(Row{Measure: "polled agent RSS (max)", Value: float64(m.agent.RSSMax) / 1e6, Unit: "MB"})
	sec.add(Row{Measure: "polled: plantsim CPU (answering the reads)", Value: m.sim.CPUCores, Unit: "cores"})

	o, err := r.polledRun(ctx, "lifeline_bench_agent_polled_32", gopcuaMaxNodesPerRead)
	if err != nil {
		return err
	}
	const small = "a server allowing 1,000 nodes per Read"
	sec.add(Row{Measure: "polled agent CPU, 32 nodes per Read (gopcua's server default)", Value: o.agent.CPUCores, Unit: "cores",
		Versus: small, Ratio: o.agent.CPUCores / m.agent.CPUCores})
	sec.add(Row{Measure: "polled agent, 32 nodes per Read: samples read", Value: o.read, Unit: "samples/s", Versus: versus, Ratio: o.read / points * interval.Seconds()})
	sec.add(Row{Measure: "polled agent, 32 nodes per Read: RSS (max)", Value: float64(o.agent.RSSMax) / 1e6, Unit: "MB",
		Versus: small, Ratio: float64(o.agent.RSSMax) / float64(m.agent.RSSMax)})
	sec.note("Polled: plantsim's 10,000 load points changing at 2 Hz, so every poll finds every value new, read by an agent with read_mode poll and poll_interval %s, measured over %.0f s. The agent splits a poll into Reads of the server's MaxNodesPerRead nodes or fewer: plantsim states %s (--max-nodes-per-read), so a poll is %d Reads; then the same against gopcua's server default of %d, %d Reads, where each Read's fixed cost in the client (a round trip and a %d KiB receive buffer) is about half of what the reader spends.",
		interval, m.window.Seconds(), human(polledMaxNodesPerRead), (points+polledMaxNodesPerRead-1)/polledMaxNodesPerRead,
		gopcuaMaxNodesPerRead, (points+gopcuaMaxNodesPerRead-1)/gopcuaMaxNodesPerRead, 64)
	return nil
}

// polledRun starts a plant stating maxPerRead as its MaxNodesPerRead, whose
// agent polls, and measures a window.
func (r *Runner) polledRun(ctx context.Context, db string, maxPerRead int) (polledRun, error) {
	var m polledRun
	// Changing at 2 Hz, every point has a new value at every poll.
	const points, rate, interval = 10_000, 2, time.Second
	p, err := r.startPlantSim(ctx, db, "PLANT01", points, rate, []string{"--max-nodes-per-read", strconv.Itoa(maxPerRead)}, func(c *agentconfig.Config) {
		for i := range c.Sources {
			c.Sources[i].ReadMode = "poll"
			c.Sources[i].PollInterval = agentconfig.Duration(interval)
		}
	})
	if err != nil {
		return m, err
	}
	defer p.stop()
	if err := r.startAgent(p); err != nil {
		return m, err
	}
	if err := p.waitFirstAcked(ctx); err != nil {
		return m, err
	}
	time.Sleep(r.window(5 * time.Second))
	m.window = max(r.window(30*time.Second), 5*time.Second)
	before, err := launch.Scrape(p.agentMetrics)
	if err != nil {
		return m, err
	}
	agentUse, simUse := meterUsage(p.agent.Pid()), meterUsage(p.sim.Pid())
	start := time.Now()
	select {
	case <-ctx.Done():
		agentUse.stop()
		simUse.stop()
		return m, ctx.Err()
	case <-time.After(m.window):
	}
	after, err := launch.Scrape(p.agentMetrics)
	elapsed := time.Since(start).Seconds()
	m.agent, m.sim = agentUse.stop(), simUse.stop()
	if err != nil {
		return m, err
	}
	m.read = (after[agentservice.MetricSamplesReadTotal] - before[agentservice.MetricSamplesReadTotal]) / elapsed
	m.acked = (after[agentservice.MetricSamplesAckedTotal] - before[agentservice.MetricSamplesAckedTotal]) / elapsed
	return m, nil
}

// startAgentEnv starts the agent with env added to its environment.
func (r *Runner) startAgentEnv(p *plant, env []string) error {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		old, had := os.LookupEnv(k)
		os.Setenv(k, v)
		if had {
			defer os.Setenv(k, old)
		} else {
			defer os.Unsetenv(k)
		}
	}
	return r.startAgent(p)
}
