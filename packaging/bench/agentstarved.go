package bench

import (
	"context"
	"fmt"
	"time"

	agentconfig "github.com/lifeline-telemetry/lifeline/agent/config"
	agentservice "github.com/lifeline-telemetry/lifeline/agent/service"
	"github.com/lifeline-telemetry/lifeline/packaging/launch"
)

// Targets of the agent's limits section.
const (
	starvedCores     = 0.1 // the starved agent's CPU quota
	starvedHogs      = 6   // spinning processes beside it where no cgroup can be made
	starvedRSSTarget = 150 // MB
	polledCPUTarget  = 0.1 // cores
)

// agentLimits runs the agent where it cannot keep up (starved of CPU) and
// where it polls instead of subscribing.
func (r *Runner) agentLimits(ctx context.Context, sec *Section) error {
	if err := r.agentStarved(ctx, sec); err != nil {
		return fmt.Errorf("starved: %w", err)
	}
	if err := r.agentPolled(ctx, sec); err != nil {
		return fmt.Errorf("polled: %w", err)
	}
	return nil
}

// agentStarved offers the agent plantsim's 10,000 points at 10 Hz and
// then holds it to starvedCores: the readers outrun the buffer, and the
// agent must fall behind on disk or at its source, not in its heap.
func (r *Runner) agentStarved(ctx context.Context, sec *Section) error {
	const points, rate = 10_000, 10
	p, err := r.startPlant(ctx, "lifeline_bench_agent_starved", "PLANT01", points, rate, func(c *agentconfig.Config) {
		for i := range c.Sources {
			c.Sources[i].PublishingInterval = agentconfig.Duration(publishingInterval)
		}
	})
	if err != nil {
		return err
	}
	var limit *cpuLimit
	defer func() {
		p.stop()
		if limit != nil {
			limit.Close()
		}
	}()
	if err := r.startAgent(p); err != nil {
		return err
	}
	// Subscribing takes CPU the starved agent would not have: the limit
	// applies once samples flow.
	if _, err := p.waitAgent(ctx, "first acked samples", 2*time.Minute, func(m map[string]float64) bool {
		return m[agentservice.MetricSamplesAckedTotal] > 0
	}); err != nil {
		return err
	}
	if limit, err = limitCPU(p.agent.Pid(), starvedCores, starvedHogs); err != nil {
		return err
	}
	time.Sleep(r.window(5 * time.Second))
	window := r.window(30 * time.Second)
	before, err := launch.Scrape(p.agentMetrics)
	if err != nil {
		return err
	}
	throttled0, _, _ := limit.Throttled()
	use := meterUsage(p.agent.Pid())
	start := time.Now()
	select {
	case <-ctx.Done():
		use.stop()
		return ctx.Err()
	case <-time.After(window):
	}
	after, err := launch.Scrape(p.agentMetrics)
	elapsed := time.Since(start).Seconds()
	u := use.stop()
	if err != nil {
		return fmt.Errorf("agent metrics: %w\nagent log:\n%s", err, p.agent.Tail(3000))
	}
	throttled1, throttledFor, known := limit.Throttled()
	r.opts.Logf("starved agent metrics at the end: %v", after)
	rate1 := func(name string) float64 { return (after[name] - before[name]) / elapsed }
	offered := float64(points * rate)
	versus := fmt.Sprintf("plantsim offers %s samples/s", human(offered))
	rss := float64(u.RSSMax) / 1e6
	sec.add(Row{Measure: "starved agent RSS (max)", Value: rss, Unit: "MB", Target: "< 150", Met: atMost(rss, starvedRSSTarget)})
	sec.add(Row{Measure: "starved agent RSS (mean)", Value: float64(u.RSSMean) / 1e6, Unit: "MB"})
	sec.add(Row{Measure: "starved agent CPU", Value: u.CPUCores, Unit: "cores", Versus: "its limit", Ratio: u.CPUCores / starvedCores})
	sec.add(Row{Measure: "starved agent: samples read from OPC UA", Value: rate1(agentservice.MetricSamplesReadTotal), Unit: "samples/s",
		Versus: versus, Ratio: rate1(agentservice.MetricSamplesReadTotal) / offered})
	sec.add(Row{Measure: "starved agent: samples written to the disk buffer", Value: rate1(agentservice.MetricSamplesBufferedTotal), Unit: "samples/s"})
	sec.add(Row{Measure: "starved agent: samples acked", Value: rate1(agentservice.MetricSamplesAckedTotal), Unit: "samples/s"})
	sec.add(Row{Measure: "starved agent: readers blocked by the batcher", Value: rate1(agentservice.MetricBatcherBlockedSeconds), Unit: "s/s"})
	sec.add(Row{Measure: "starved agent: buffered at the end (queue bytes)", Value: after[agentservice.MetricBufferBytes] / 1e6, Unit: "MB"})
	sec.add(Row{Measure: "starved agent: buffered at the end (queue entries)", Value: after[agentservice.MetricBufferBatches], Unit: "batches"})
	sec.add(Row{Measure: "starved agent: backlog at the end", Value: after[agentservice.MetricBacklogSamples], Unit: "samples"})
	sec.add(Row{Measure: "starved agent: samples dropped (buffer full)", Value: after[agentservice.MetricSamplesDroppedTotal] - before[agentservice.MetricSamplesDroppedTotal], Unit: "samples"})
	sec.note("Starved: plantsim's 10,000 load points at 10 Hz (publishing_interval %s) into an agent held, once its first samples were acked, to %s; measured over %.0f s after %.0f s more, RSS read from /proc every 250 ms, the queue's figures from the agent's metrics at the window's end.",
		publishingInterval, limit.How, window.Seconds(), r.window(5*time.Second).Seconds())
	if known {
		sec.note("Starved: the cgroup throttled the agent in %d of the window's %.0f quota periods (%s in all since the limit applied).",
			throttled1-throttled0, elapsed/cfsPeriod.Seconds(), throttledFor.Round(time.Millisecond))
	}
	return nil
}
