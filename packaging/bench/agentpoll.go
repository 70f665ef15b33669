package bench

import (
	"context"
	"fmt"
	"time"

	agentconfig "github.com/lifeline-telemetry/lifeline/agent/config"
	agentservice "github.com/lifeline-telemetry/lifeline/agent/service"
	"github.com/lifeline-telemetry/lifeline/packaging/launch"
)

// agentPolled runs the agent with read_mode poll over plantsim's 10,000
// load points once a second, and measures what polling costs it.
func (r *Runner) agentPolled(ctx context.Context, sec *Section) error {
	// Changing at 2 Hz, every point has a new value at every poll.
	const points, rate, interval = 10_000, 2, time.Second
	p, err := r.startPlant(ctx, "lifeline_bench_agent_polled", "PLANT01", points, rate, func(c *agentconfig.Config) {
		for i := range c.Sources {
			c.Sources[i].ReadMode = "poll"
			c.Sources[i].PollInterval = agentconfig.Duration(interval)
		}
	})
	if err != nil {
		return err
	}
	defer p.stop()
	if err := r.startAgent(p); err != nil {
		return err
	}
	if _, err := p.waitAgent(ctx, "first acked samples", 2*time.Minute, func(m map[string]float64) bool {
		return m[agentservice.MetricSamplesAckedTotal] > 0
	}); err != nil {
		return err
	}
	time.Sleep(r.window(5 * time.Second))
	window := max(r.window(30*time.Second), 5*time.Second)
	before, err := launch.Scrape(p.agentMetrics)
	if err != nil {
		return err
	}
	agentUse, simUse := meterUsage(p.agent.Pid()), meterUsage(p.sim.Pid())
	start := time.Now()
	select {
	case <-ctx.Done():
		agentUse.stop()
		simUse.stop()
		return ctx.Err()
	case <-time.After(window):
	}
	after, err := launch.Scrape(p.agentMetrics)
	elapsed := time.Since(start).Seconds()
	au, su := agentUse.stop(), simUse.stop()
	if err != nil {
		return err
	}
	rate1 := func(name string) float64 { return (after[name] - before[name]) / elapsed }
	read := rate1(agentservice.MetricSamplesReadTotal)
	versus := fmt.Sprintf("%s points polled every %s", human(points), interval)
	sec.add(Row{Measure: "polled agent CPU (10,000 points, poll_interval 1s)", Value: au.CPUCores, Unit: "cores",
		Target: "< 0.1", Met: atMost(au.CPUCores, polledCPUTarget)})
	sec.add(Row{Measure: "polled agent: samples read", Value: read, Unit: "samples/s", Versus: versus, Ratio: read / points * interval.Seconds()})
	sec.add(Row{Measure: "polled agent: samples acked", Value: rate1(agentservice.MetricSamplesAckedTotal), Unit: "samples/s"})
	sec.add(Row{Measure: "polled agent RSS (max)", Value: float64(au.RSSMax) / 1e6, Unit: "MB"})
	sec.add(Row{Measure: "polled: plantsim CPU (answering the reads)", Value: su.CPUCores, Unit: "cores"})
	sec.note("Polled: plantsim's 10,000 load points changing at %d Hz, so every poll finds every value new, read by an agent with read_mode poll and poll_interval %s (Read requests of the server's MaxNodesPerRead nodes or fewer), measured over %.0f s.",
		rate, interval, window.Seconds())
	return nil
}
