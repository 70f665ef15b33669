package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	agentconfig "github.com/lifeline-telemetry/lifeline/agent/config"
	agentservice "github.com/lifeline-telemetry/lifeline/agent/service"
	"github.com/lifeline-telemetry/lifeline/packaging/launch"
)

// plantsimMaxNodesPerRead is the MaxNodesPerRead plantsim states
// (gopcua's server default), which splits each poll into many Reads.
const plantsimMaxNodesPerRead = 32

// polledRun is what one polled agent run measured.
type polledRun struct {
	agent, sim  Usage
	read, acked float64 // samples/s
	window      time.Duration
}

// agentPolled runs the agent with read_mode poll over plantsim's 10,000
// load points once a second, and measures what polling costs it; then the
// same with the garbage collector set as the agent set it before (GOGC=50,
// no memory limit), for what the agent's own setting buys.
func (r *Runner) agentPolled(ctx context.Context, sec *Section) error {
	m, err := r.polledRun(ctx, "lifeline_bench_agent_polled", nil)
	if err != nil {
		return err
	}
	const points, interval = 10_000, time.Second
	versus := fmt.Sprintf("%s points polled every %s", human(points), interval)
	sec.add(Row{Measure: "polled agent CPU (10,000 points, poll_interval 1s)", Value: m.agent.CPUCores, Unit: "cores",
		Target: "< 0.1", Met: atMost(m.agent.CPUCores, polledCPUTarget)})
	sec.add(Row{Measure: "polled agent: samples read", Value: m.read, Unit: "samples/s", Versus: versus, Ratio: m.read / points * interval.Seconds()})
	sec.add(Row{Measure: "polled agent: samples acked", Value: m.acked, Unit: "samples/s"})
	sec.add(Row{Measure: "polled agent RSS (max)", Value: float64(m.agent.RSSMax) / 1e6, Unit: "MB"})
	sec.add(Row{Measure: "polled: plantsim CPU (answering the reads)", Value: m.sim.CPUCores, Unit: "cores"})

	o, err := r.polledRun(ctx, "lifeline_bench_agent_polled_gogc50", []string{"GOGC=50", "GOMEMLIMIT=off"})
	if err != nil {
		return err
	}
	sec.add(Row{Measure: "polled agent with GOGC=50, no memory limit: CPU", Value: o.agent.CPUCores, Unit: "cores",
		Versus: "the agent's own GC setting", Ratio: o.agent.CPUCores / m.agent.CPUCores})
	sec.add(Row{Measure: "polled agent with GOGC=50, no memory limit: RSS (max)", Value: float64(o.agent.RSSMax) / 1e6, Unit: "MB",
		Versus: "the agent's own GC setting", Ratio: float64(o.agent.RSSMax) / float64(m.agent.RSSMax)})
	const change = "agent: GOGC 100 with a soft memory limit, instead of GOGC 50"
	sec.add(Row{Measure: "polled agent CPU", Value: m.agent.CPUCores, Unit: "cores", Change: change, Before: o.agent.CPUCores})
	sec.note("Polled: plantsim's 10,000 load points changing at 2 Hz, so every poll finds every value new, read by an agent with read_mode poll and poll_interval %s (Read requests of the server's MaxNodesPerRead nodes or fewer: plantsim states gopcua's default of %d, so a poll is %d Reads, and each Read's fixed cost in the client, a round trip and a %d KiB receive buffer, is about half of what the reader spends), measured over %.0f s; then the same with GOGC=50 and GOMEMLIMIT=off in the agent's environment only.",
		interval, plantsimMaxNodesPerRead, (points+plantsimMaxNodesPerRead-1)/plantsimMaxNodesPerRead, 64, m.window.Seconds())
	return nil
}

// polledRun starts a plant whose agent polls, with env added to the
// agent's environment, and measures a window.
func (r *Runner) polledRun(ctx context.Context, db string, env []string) (polledRun, error) {
	var m polledRun
	// Changing at 2 Hz, every point has a new value at every poll.
	const points, rate, interval = 10_000, 2, time.Second
	p, err := r.startPlant(ctx, db, "PLANT01", points, rate, func(c *agentconfig.Config) {
		for i := range c.Sources {
			c.Sources[i].ReadMode = "poll"
			c.Sources[i].PollInterval = agentconfig.Duration(interval)
		}
	})
	if err != nil {
		return m, err
	}
	defer p.stop()
	if err := r.startAgentEnv(p, env); err != nil {
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
