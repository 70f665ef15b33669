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

// starvedRun is what one starved agent run measured.
type starvedRun struct {
	use           Usage
	before, after map[string]float64 // the agent's metrics at the window's ends
	elapsed       float64            // s
	window        time.Duration
	how           string
	throttled     int64
	throttledFor  time.Duration
	throttleKnown bool
}

func (m starvedRun) rate(name string) float64 { return (m.after[name] - m.before[name]) / m.elapsed }

// agentStarved offers the agent plantsim's 10,000 points at 10 Hz and
// then holds it to starvedCores: the readers outrun the buffer, and the
// agent must fall behind on disk or at its source, not in its heap. Then
// the same with the garbage collector set as the agent set it before.
func (r *Runner) agentStarved(ctx context.Context, sec *Section) error {
	const points, rate = 10_000, 10
	m, err := r.starvedRun(ctx, "lifeline_bench_agent_starved", points, rate, nil)
	if err != nil {
		return err
	}
	offered := float64(points * rate)
	versus := fmt.Sprintf("plantsim offers %s samples/s", human(offered))
	rss := float64(m.use.RSSMax) / 1e6
	read := m.rate(agentservice.MetricSamplesReadTotal)
	sec.add(Row{Measure: "starved agent RSS (max)", Value: rss, Unit: "MB", Target: "< 150", Met: atMost(rss, starvedRSSTarget)})
	sec.add(Row{Measure: "starved agent RSS (mean)", Value: float64(m.use.RSSMean) / 1e6, Unit: "MB"})
	sec.add(Row{Measure: "starved agent CPU", Value: m.use.CPUCores, Unit: "cores", Versus: "its limit", Ratio: m.use.CPUCores / starvedCores})
	sec.add(Row{Measure: "starved agent: samples read from OPC UA", Value: read, Unit: "samples/s", Versus: versus, Ratio: read / offered})
	sec.add(Row{Measure: "starved agent: samples written to the disk buffer", Value: m.rate(agentservice.MetricSamplesBufferedTotal), Unit: "samples/s"})
	sec.add(Row{Measure: "starved agent: samples acked", Value: m.rate(agentservice.MetricSamplesAckedTotal), Unit: "samples/s"})
	sec.add(Row{Measure: "starved agent: readers blocked by the batcher", Value: m.rate(agentservice.MetricBatcherBlockedSeconds), Unit: "s/s"})
	sec.add(Row{Measure: "starved agent: buffered at the end (queue bytes)", Value: m.after[agentservice.MetricBufferBytes] / 1e6, Unit: "MB"})
	sec.add(Row{Measure: "starved agent: buffered at the end (queue entries)", Value: m.after[agentservice.MetricBufferBatches], Unit: "batches"})
	sec.add(Row{Measure: "starved agent: backlog at the end", Value: m.after[agentservice.MetricBacklogSamples], Unit: "samples"})
	sec.add(Row{Measure: "starved agent: samples dropped (buffer full)", Value: m.after[agentservice.MetricSamplesDroppedTotal] - m.before[agentservice.MetricSamplesDroppedTotal], Unit: "samples"})
	sec.note("Starved: plantsim's 10,000 load points at 10 Hz (publishing_interval %s) into an agent held, once its first samples were acked, to %s; measured over %.0f s after %.0f s more, RSS read from /proc every 250 ms, the queue's figures from the agent's metrics at the window's end.",
		publishingInterval, m.how, m.window.Seconds(), r.window(5*time.Second).Seconds())
	if m.throttleKnown {
		sec.note("Starved: the cgroup throttled the agent in %d of the window's %.0f quota periods (%s in all since the limit applied).",
			m.throttled, m.elapsed/cfsPeriod.Seconds(), m.throttledFor.Round(time.Millisecond))
	}

	o, err := r.starvedRun(ctx, "lifeline_bench_agent_starved_gogc50", points, rate, []string{"GOGC=50", "GOMEMLIMIT=off"})
	if err != nil {
		return err
	}
	orss := float64(o.use.RSSMax) / 1e6
	sec.add(Row{Measure: "starved agent with GOGC=50, no memory limit: RSS (max)", Value: orss, Unit: "MB", Versus: "the agent's own GC setting", Ratio: orss / rss})
	oread := o.rate(agentservice.MetricSamplesReadTotal)
	sec.add(Row{Measure: "starved agent with GOGC=50, no memory limit: samples read", Value: oread, Unit: "samples/s", Versus: "the agent's own GC setting", Ratio: oread / read})
	const change = "agent: GOGC 100 with a soft memory limit, instead of GOGC 50"
	sec.add(Row{Measure: "starved agent RSS (max)", Value: rss, Unit: "MB", Change: change, Before: orss})
	sec.add(Row{Measure: "starved agent: samples read", Value: read, Unit: "samples/s", Change: change, Before: oread})
	sec.note("Starved with GOGC=50: a second plant and agent the same way, GOGC=50 and GOMEMLIMIT=off in the agent's environment only.")
	return nil
}

// starvedRun starts a plant, its agent with env added to its environment,
// holds the agent to starvedCores once samples flow and measures a window.
func (r *Runner) starvedRun(ctx context.Context, db string, points, rate int, env []string) (starvedRun, error) {
	var m starvedRun
	p, err := r.startPlant(ctx, db, "PLANT01", points, float64(rate), func(c *agentconfig.Config) {
		for i := range c.Sources {
			c.Sources[i].PublishingInterval = agentconfig.Duration(publishingInterval)
		}
	})
	if err != nil {
		return m, err
	}
	var limit *cpuLimit
	defer func() {
		p.stop()
		if limit != nil {
			limit.Close()
		}
	}()
	if err := r.startAgentEnv(p, env); err != nil {
		return m, err
	}
	// Subscribing takes CPU the starved agent would not have: the limit
	// applies once samples flow.
	if err := p.waitFirstAcked(ctx); err != nil {
		return m, err
	}
	if limit, err = limitCPU(p.agent.Pid(), starvedCores, starvedHogs); err != nil {
		return m, err
	}
	m.how = limit.How
	time.Sleep(r.window(5 * time.Second))
	m.window = r.window(30 * time.Second)
	if m.before, err = launch.Scrape(p.agentMetrics); err != nil {
		return m, err
	}
	throttled0, _, _ := limit.Throttled()
	use := meterUsage(p.agent.Pid())
	start := time.Now()
	select {
	case <-ctx.Done():
		use.stop()
		return m, ctx.Err()
	case <-time.After(m.window):
	}
	m.after, err = launch.Scrape(p.agentMetrics)
	m.elapsed = time.Since(start).Seconds()
	m.use = use.stop()
	if err != nil {
		return m, fmt.Errorf("agent metrics: %w\nagent log:\n%s", err, p.agent.Tail(3000))
	}
	var throttled1 int64
	throttled1, m.throttledFor, m.throttleKnown = limit.Throttled()
	m.throttled = throttled1 - throttled0
	r.opts.Logf("starved agent metrics at the end: %v", m.after)
	return m, nil
}
