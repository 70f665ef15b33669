package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	agentconfig "github.com/lifeline-telemetry/lifeline/agent/config"
)

// Targets of the agent run.
const (
	publishingInterval = 100 * time.Millisecond

	agentRateTarget = 100_000
	agentCPUTarget  = 1.0
	agentRSSTarget  = 150 // MB
)

// plant is plantsim, an aggregator and an agent reading the one and
// sending to the other, each a process.
type plant struct {
	sim, agent     *process
	agg            *aggregatorProc
	simAddr        string
	agentMetrics   string
	agentConfig    string
	site, database string
}

// startPlant starts plantsim with points load points at rate Hz, an
// aggregator on database db and, unless noAgent, the agent. tweak may
// change the agent's configuration before it is written.
func (r *Runner) startPlant(ctx context.Context, db, site string, points int, rate float64, tweak func(*agentconfig.Config)) (*plant, error) {
	p := &plant{site: site, database: db}
	var err error
	if p.simAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	if p.agentMetrics, err = freeAddr(); err != nil {
		return nil, err
	}
	if err := r.ch.freshDatabase(ctx, db); err != nil {
		return nil, err
	}
	if p.agg, err = r.startAggregator(ctx, db); err != nil {
		return nil, err
	}
	p.sim, err = startProcess(r.opts.BinDir, r.dir, "lifeline-plantsim", "run", "--listen", p.simAddr,
		"--points", strconv.Itoa(points), "--rate", strconv.FormatFloat(rate, 'f', -1, 64),
		"--excursions-per-hour", "-1", "--stats-interval", "0", "--log-level", "warn")
	if err != nil {
		p.stop()
		return nil, err
	}
	out, err := exec.CommandContext(ctx, filepath.Join(r.opts.BinDir, "lifeline-plantsim"), "config",
		"--endpoint", "opc.tcp://"+p.simAddr, "--aggregator", p.agg.addr,
		"--buffer", filepath.Join(r.dir, "buffer-"+site), "--site", site, "--points", strconv.Itoa(points)).Output()
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("plantsim config: %w", err)
	}
	cfg, err := agentconfig.Parse(out)
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("plantsim config: %w", err)
	}
	cfg.Metrics.Listen = p.agentMetrics
	cfg.Metrics.Pprof = true // lets a run be profiled while it goes
	cfg.Log.Level = "warn"
	if tweak != nil {
		tweak(&cfg)
	}
	data, err := cfg.Marshal()
	if err != nil {
		p.stop()
		return nil, err
	}
	p.agentConfig = filepath.Join(r.dir, "agent-"+site+".yaml")
	if err := os.WriteFile(p.agentConfig, data, 0o644); err != nil {
		p.stop()
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := waitListening(wctx, p.simAddr, p.sim); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func (r *Runner) startAgent(p *plant) error {
	var err error
	p.agent, err = startProcess(r.opts.BinDir, r.dir, "lifeline-agent", "run", "--config", p.agentConfig)
	return err
}

func (p *plant) stop() {
	p.sim.stop(10 * time.Second)
	p.agent.stop(20 * time.Second)
	if p.agg != nil {
		p.agg.stop(15 * time.Second)
	}
}

// waitAgent polls the agent's metrics until cond holds or limit passes.
func (p *plant) waitAgent(ctx context.Context, what string, limit time.Duration, cond func(map[string]float64) bool) (map[string]float64, error) {
	deadline := time.Now().Add(limit)
	for {
		m, err := scrape(p.agentMetrics)
		if err == nil && cond(m) {
			return m, nil
		}
		if p.agent.exited() {
			return nil, fmt.Errorf("agent exited while waiting for %s:\n%s", what, p.agent.tail())
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("timed out waiting for %s (metrics %v)\nagent log:\n%s", what, err, p.agent.tail())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// agent runs plantsim with 10,000 points at 10 Hz through a real agent and
// aggregator, measuring the agent's delivery, its CPU and RSS, and how
// long a sample takes from its source timestamp to being queryable.
func (r *Runner) agent(ctx context.Context, sec *Section) error {
	const points, rate = 10_000, 10.0
	db := "lifeline_bench_agent"
	// gopcua's server keeps one value per monitored item between publishes
	// (it ignores the requested queue size), so a publishing interval
	// longer than the change period would coalesce changes away: publish
	// as often as the points change.
	p, err := r.startPlant(ctx, db, "PLANT01", points, rate, func(c *agentconfig.Config) {
		for i := range c.Sources {
			c.Sources[i].PublishingInterval = agentconfig.Duration(publishingInterval)
		}
	})
	if err != nil {
		return err
	}
	defer p.stop()
	r.agentDB = db
	if err := r.startAgent(p); err != nil {
		return err
	}
	// Subscribing 10,000 items takes a while; the window starts once
	// samples are being acked, after a warm-up.
	if _, err := p.waitAgent(ctx, "first acked samples", 2*time.Minute, func(m map[string]float64) bool {
		return m["lifeline_agent_samples_acked_total"] > 0
	}); err != nil {
		return err
	}
	time.Sleep(r.window(5 * time.Second))

	conn, err := r.ch.open(db)
	if err != nil {
		return err
	}
	defer conn.Close()
	before, err := scrape(p.agentMetrics)
	if err != nil {
		return err
	}
	agentUse, simUse, aggUse := meterUsage(p.agent.pid()), meterUsage(p.sim.pid()), meterUsage(p.agg.pid())
	start := time.Now()
	var lags []time.Duration
	for time.Since(start) < r.window(20*time.Second) {
		var newest int64
		if err := conn.QueryRow(ctx, "SELECT max(ts_ns) FROM samples WHERE site_id = ?", p.site).Scan(&newest); err != nil {
			return fmt.Errorf("freshness: %w", err)
		}
		if newest > 0 {
			lags = append(lags, time.Since(time.Unix(0, newest)))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	after, err := scrape(p.agentMetrics)
	elapsed := time.Since(start).Seconds()
	au, su, gu := agentUse.stop(), simUse.stop(), aggUse.stop()
	if err != nil {
		return err
	}
	delivered := (after["lifeline_agent_samples_acked_total"] - before["lifeline_agent_samples_acked_total"]) / elapsed
	read := (after["lifeline_agent_samples_read_total"] - before["lifeline_agent_samples_read_total"]) / elapsed
	buffered := (after["lifeline_agent_samples_buffered_total"] - before["lifeline_agent_samples_buffered_total"]) / elapsed
	r.opts.Logf("agent metrics at the end: %v", after)
	offered := float64(points) * rate
	sec.add(Row{Measure: "samples delivered (acked after commit)", Value: delivered, Unit: "samples/s",
		Target: "≥ 100,000", Met: atLeast(delivered, agentRateTarget),
		Versus: fmt.Sprintf("plantsim offers %s samples/s", human(offered)), Ratio: delivered / offered})
	sec.add(Row{Measure: "samples read from OPC UA", Value: read, Unit: "samples/s",
		Versus: fmt.Sprintf("plantsim offers %s samples/s", human(offered)), Ratio: read / offered})
	sec.add(Row{Measure: "samples written to the disk buffer", Value: buffered, Unit: "samples/s"})
	sec.add(Row{Measure: "agent CPU", Value: au.CPUCores, Unit: "cores", Target: "< 1", Met: atMost(au.CPUCores, agentCPUTarget)})
	rssMB := float64(au.RSSMax) / 1e6
	sec.add(Row{Measure: "agent RSS (max)", Value: rssMB, Unit: "MB", Target: "< 150", Met: atMost(rssMB, agentRSSTarget)})
	p99 := quantile(lags, 0.99)
	sec.add(Row{Measure: "source timestamp → row queryable, p50", Value: ms(quantile(lags, 0.5)), Unit: "ms"})
	sec.add(Row{Measure: "source timestamp → row queryable, p99", Value: ms(p99), Unit: "ms"})
	sec.add(Row{Measure: "plantsim CPU (the OPC UA server)", Value: su.CPUCores, Unit: "cores"})
	sec.add(Row{Measure: "aggregator CPU", Value: gu.CPUCores, Unit: "cores"})
	sec.note("Processes: lifeline-plantsim (10,000 load points changing at 10 Hz, plus its plant model), lifeline-agent with the configuration `lifeline-plantsim config` prints (its defaults except publishing_interval %s: subscriptions, batches of 2,000 samples or 200 ms, fsync per batch), lifeline-aggregator with its defaults; ClickHouse on the same 2 cores.", publishingInterval)
	sec.note("Freshness: every 200 ms the run asks ClickHouse for the newest source timestamp of the site; the lag is the wall clock minus it, sampled %d times over the window. It includes the OPC UA publishing interval, batching (200 ms), fsync, the aggregator's writer delay (200 ms) and the insert.", len(lags))
	return nil
}
