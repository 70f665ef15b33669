package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	agentconfig "github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
	agentservice "github.com/lifeline-telemetry/lifeline/agent/service"
	"github.com/lifeline-telemetry/lifeline/packaging/launch"
)

// Targets of the agent run.
const (
	// publishingInterval is half the load points' change period, as in
	// earlier runs. plantsim runs with --queue-values: each monitored item
	// keeps the queue the agent asks for (100 values), so a publishing
	// cycle that stretches loses nothing unless a queue fills, and then
	// plantsim counts it (overflowed_values) and flags the next value.
	publishingInterval = 50 * time.Millisecond
	// maxItemsPerSubscription is what plantsim states as its
	// MaxMonitoredItemsPerSubscription: 10,000 points then take four
	// subscriptions, which gopcua's server publishes in parallel.
	maxItemsPerSubscription = 2500
	// headroomPublishingInterval is the same for changes every 67 ms.
	headroomPublishingInterval = 33 * time.Millisecond

	agentRateTarget = 100_000
	agentCPUTarget  = 0.35 // cores, at the 100,000 samples/s offer
	agentRSSTarget  = 100  // MB

	// goAllocBytesTotal is the Go runtime's count of heap bytes allocated,
	// among the agent's metrics.
	goAllocBytesTotal = "go_memstats_alloc_bytes_total"
)

// plant is plantsim, an aggregator and an agent reading the one and
// sending to the other, each a process.
type plant struct {
	sim, agent     *launch.Process
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
	return r.startPlantSim(ctx, db, site, points, rate, nil, tweak)
}

// startPlantSim is startPlant with simArgs added to plantsim's flags.
func (r *Runner) startPlantSim(ctx context.Context, db, site string, points int, rate float64, simArgs []string, tweak func(*agentconfig.Config)) (*plant, error) {
	p := &plant{site: site, database: db}
	addrs, err := launch.FreeAddrs(2)
	if err != nil {
		return nil, err
	}
	p.simAddr, p.agentMetrics = addrs[0], addrs[1]
	if err := r.ch.freshDatabase(ctx, db); err != nil {
		return nil, err
	}
	if p.agg, err = r.startAggregator(ctx, db); err != nil {
		return nil, err
	}
	if p.sim, err = r.startSim(p.simAddr, points, rate, simArgs...); err != nil {
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
	cfg.StatusPage.Listen = "" // several agents share this host
	cfg.Metrics.Pprof = true   // lets a run be profiled while it goes
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
	if err := p.sim.WaitListening(wctx, p.simAddr); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// startSim runs plantsim on addr with points load points changing at rate
// Hz, its stats in its log every second and no excursions.
func (r *Runner) startSim(addr string, points int, rate float64, extra ...string) (*launch.Process, error) {
	args := append([]string{"run", "--listen", addr,
		"--points", strconv.Itoa(points), "--rate", strconv.FormatFloat(rate, 'f', -1, 64),
		"--excursions-per-hour", "-1", "--stats-interval", "1s", "--log-level", "info",
		"--max-items-per-subscription", strconv.Itoa(maxItemsPerSubscription), "--queue-values"}, extra...)
	return startProcess(r.opts.BinDir, r.dir, "lifeline-plantsim", args...)
}

func (r *Runner) startAgent(p *plant) error {
	var err error
	p.agent, err = startProcess(r.opts.BinDir, r.dir, "lifeline-agent", "run", "--config", p.agentConfig)
	return err
}

// waitFirstAcked waits until the agent's first samples were acked: the
// whole path from OPC UA to ClickHouse is up.
func (p *plant) waitFirstAcked(ctx context.Context) error {
	_, err := p.waitAgent(ctx, "first acked samples", 2*time.Minute, func(m map[string]float64) bool {
		return m[agentservice.MetricSamplesAckedTotal] > 0
	})
	return err
}

func (p *plant) stop() {
	p.sim.Stop(10 * time.Second)
	p.agent.Stop(20 * time.Second)
	if p.agg != nil {
		p.agg.Stop(15 * time.Second)
	}
}

// waitAgent polls the agent's metrics until cond holds or limit passes.
func (p *plant) waitAgent(ctx context.Context, what string, limit time.Duration, cond func(map[string]float64) bool) (map[string]float64, error) {
	deadline := time.Now().Add(limit)
	for {
		m, err := launch.Scrape(p.agentMetrics)
		if err == nil && cond(m) {
			return m, nil
		}
		if p.agent.Exited() {
			return nil, fmt.Errorf("agent exited while waiting for %s:\n%s", what, p.agent.Tail(3000))
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("timed out waiting for %s (metrics %v)\nagent log:\n%s", what, err, p.agent.Tail(3000))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// agentLoad is what one agent run measured.
type agentLoad struct {
	offered, delivered, acked, read, buffered float64 // samples/s
	simLost                                   float64 // samples/s lost inside plantsim (-1: not known)
	agentCPU, simCPU, aggCPU                  float64 // cores
	agentRSS                                  float64 // MB
	allocPerRead                              float64 // bytes of Go heap the agent allocated per sample read
	lags                                      []time.Duration
	window                                    time.Duration
}

// agent runs plantsim with 10,000 points at 10 Hz through a real agent and
// aggregator, measuring the agent's delivery, its CPU and RSS, and how
// long a sample takes from its source timestamp to being queryable; then
// the same at 15 Hz, to show how far the agent is from its limit.
func (r *Runner) agent(ctx context.Context, sec *Section) error {
	const points = 10_000
	db := "lifeline_bench_agent"
	m, err := r.agentLoad(ctx, db, points, 10, publishingInterval, r.window(20*time.Second))
	if err != nil {
		return err
	}
	r.agentDB = db
	versus := fmt.Sprintf("plantsim offers %s samples/s", human(m.offered))
	sec.add(Row{Measure: "samples delivered (load points' rows in ClickHouse per second of source time)", Value: m.delivered, Unit: "samples/s",
		Target: "≥ 100,000", Met: atLeast(m.delivered, agentRateTarget), Versus: versus, Ratio: m.delivered / m.offered})
	sec.add(Row{Measure: "samples acked (the agent's counter over the window)", Value: m.acked, Unit: "samples/s", Versus: versus, Ratio: m.acked / m.offered})
	sec.add(Row{Measure: "samples read from OPC UA", Value: m.read, Unit: "samples/s", Versus: versus, Ratio: m.read / m.offered})
	sec.add(Row{Measure: "samples written to the disk buffer", Value: m.buffered, Unit: "samples/s"})
	addLosses(sec, "", m)
	sec.add(Row{Measure: "agent CPU", Value: m.agentCPU, Unit: "cores", Target: "< 0.35", Met: atMost(m.agentCPU, agentCPUTarget)})
	sec.add(Row{Measure: "agent RSS (max)", Value: m.agentRSS, Unit: "MB", Target: "< 100", Met: atMost(m.agentRSS, agentRSSTarget)})
	if m.read > 0 {
		sec.add(Row{Measure: "agent CPU per 100,000 samples/s read", Value: m.agentCPU / m.read * 1e5, Unit: "cores"})
	}
	sec.add(Row{Measure: "agent heap allocated per sample read", Value: m.allocPerRead, Unit: "bytes/sample"})
	sec.add(Row{Measure: "source timestamp → row queryable, p50", Value: ms(quantile(m.lags, 0.5)), Unit: "ms"})
	sec.add(Row{Measure: "source timestamp → row queryable, p99", Value: ms(quantile(m.lags, 0.99)), Unit: "ms"})
	sec.add(Row{Measure: "plantsim CPU (the OPC UA server)", Value: m.simCPU, Unit: "cores"})
	sec.add(Row{Measure: "aggregator CPU", Value: m.aggCPU, Unit: "cores"})

	h, err := r.agentLoad(ctx, "lifeline_bench_agent_headroom", points, 15, headroomPublishingInterval, r.window(10*time.Second))
	if err != nil {
		return err
	}
	versus = fmt.Sprintf("plantsim offers %s samples/s", human(h.offered))
	sec.add(Row{Measure: "headroom, 10,000 points at 15 Hz: samples delivered", Value: h.delivered, Unit: "samples/s", Versus: versus, Ratio: h.delivered / h.offered})
	sec.add(Row{Measure: "headroom: samples read from OPC UA", Value: h.read, Unit: "samples/s", Versus: versus, Ratio: h.read / h.offered})
	addLosses(sec, "headroom: ", h)
	sec.add(Row{Measure: "headroom: agent CPU", Value: h.agentCPU, Unit: "cores"})
	sec.add(Row{Measure: "headroom: agent RSS (max)", Value: h.agentRSS, Unit: "MB"})
	sec.add(Row{Measure: "headroom: plantsim CPU", Value: h.simCPU, Unit: "cores"})

	sec.note("Processes: lifeline-plantsim (10,000 load points changing at 10 Hz, plus its plant model; --queue-values, --max-items-per-subscription %d), lifeline-agent with the configuration `lifeline-plantsim config` prints (its defaults except publishing_interval %s, half the change period: subscriptions, a queue of 100 values per item, batches of 2,000 samples or 200 ms, fsync per batch), lifeline-aggregator with its defaults; ClickHouse on the same 2 cores.", maxItemsPerSubscription, publishingInterval)
	sec.note("Delivered: rows of the 10,000 load points whose source timestamp lies in the %.0f s window, counted in ClickHouse once every sample of the window was queryable (the newest 3 s past the window's end and the count unchanged for 3 s: a backlog arrives item by item), over the window's length. plantsim stamps each change with the start of its 10 ms scan slot and every slot holds exactly its share of changes, so over a window of whole slots a lossless run counts exactly the offer; the agent's acked counter moves 20,000 samples at a time and is shown for reference.", m.window.Seconds())
	sec.note("Losses are told apart: plantsim serves the subscriptions through its own publishing loop (--queue-values), where a change goes straight into its monitored item's queue of the size the agent asked for (100); a full queue discards its oldest value and sets the Overflow bit on the next (the agent keeps it in the sample's status), and plantsim counts every value discarded (overflowed_values in its stats log, with dropped_notifications, which this mode leaves at 0; read every second and counted when a value is discarded, so over the window to within a second and a queue's span, 10 s at 10 Hz). That is plantsim's loss, values no client could have read. The collector's loss is the offer less what was delivered and what plantsim lost: nothing is overwritten unseen, so it is the agent's, the aggregator's or ClickHouse's. (gopcua's own publishing, used before, keeps one value per item between publishes and overwrote changes without a trace whenever a publishing cycle stretched past the change period.)")
	sec.note("Per sample read: the agent's CPU and the heap it allocated (go_memstats_alloc_bytes_total) over the window, divided by the samples it read. Unlike the CPU alone they hold when a loaded machine leaves the agent reading less than the offer, so they compare runs.")
	sec.note("Freshness: every 200 ms the run asks ClickHouse for the newest source timestamp of the site; the lag is the wall clock minus it, sampled %d times over the window. It includes the OPC UA publishing interval, batching (200 ms), fsync, the aggregator's writer delay (200 ms) and the insert.", len(m.lags))
	sec.note("Headroom: a second plant, database and agent with the same configuration except publishing_interval %s, %.0f s window; on these 2 cores plantsim, the aggregator and ClickHouse share the CPU with the agent.", headroomPublishingInterval, h.window.Seconds())
	return nil
}

// agentLoad runs plantsim with points load points changing at rate Hz, an
// agent and an aggregator on database db, and measures a window of steady
// delivery.
func (r *Runner) agentLoad(ctx context.Context, db string, points int, rate float64, publish, window time.Duration) (agentLoad, error) {
	var m agentLoad
	p, err := r.startPlant(ctx, db, "PLANT01", points, rate, func(c *agentconfig.Config) {
		for i := range c.Sources {
			c.Sources[i].PublishingInterval = agentconfig.Duration(publish)
		}
	})
	if err != nil {
		return m, err
	}
	defer p.stop()
	if err := r.startAgent(p); err != nil {
		return m, err
	}
	// Subscribing 10,000 items takes a while; the window starts once
	// samples are being acked, after a warm-up.
	if err := p.waitFirstAcked(ctx); err != nil {
		return m, err
	}
	time.Sleep(r.window(5 * time.Second))

	conn, err := r.ch.open(db)
	if err != nil {
		return m, err
	}
	defer conn.Close()
	before, err := launch.Scrape(p.agentMetrics)
	if err != nil {
		return m, err
	}
	simBefore, simKnown := simLosses(p.sim.Log)
	agentUse, simUse, aggUse := meterUsage(p.agent.Pid()), meterUsage(p.sim.Pid()), meterUsage(p.agg.Pid())
	start := time.Now()
	for time.Since(start) < window {
		var newest int64
		if err := conn.QueryRow(ctx, "SELECT max(ts_ns) FROM samples WHERE site_id = ?", p.site).Scan(&newest); err != nil {
			return m, fmt.Errorf("freshness: %w", err)
		}
		if newest > 0 {
			m.lags = append(m.lags, time.Since(time.Unix(0, newest)))
		}
		select {
		case <-ctx.Done():
			return m, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	after, err := launch.Scrape(p.agentMetrics)
	elapsed := time.Since(start).Seconds()
	simAfter, simKnownAfter := simLosses(p.sim.Log)
	m.simLost = -1
	if simKnown && simKnownAfter {
		m.simLost = float64(simAfter-simBefore) / elapsed
	}
	au, su, gu := agentUse.stop(), simUse.stop(), aggUse.stop()
	if err != nil {
		return m, err
	}
	r.opts.Logf("agent metrics at the end: %v", after)
	rate1 := func(name string) float64 { return (after[name] - before[name]) / elapsed }
	m.acked = rate1(agentservice.MetricSamplesAckedTotal)
	m.read = rate1(agentservice.MetricSamplesReadTotal)
	m.buffered = rate1(agentservice.MetricSamplesBufferedTotal)
	if read := after[agentservice.MetricSamplesReadTotal] - before[agentservice.MetricSamplesReadTotal]; read > 0 {
		m.allocPerRead = (after[goAllocBytesTotal] - before[goAllocBytesTotal]) / read
	}
	m.agentCPU, m.simCPU, m.aggCPU = au.CPUCores, su.CPUCores, gu.CPUCores
	m.agentRSS = float64(au.RSSMax) / 1e6
	m.offered = float64(points) * rate
	m.window = window
	// Whole plantsim scan slots (10 ms, aligned in Unix time).
	from := start.Truncate(10 * time.Millisecond).Add(10 * time.Millisecond)
	if m.delivered, err = deliveredRate(ctx, conn, p.site, from, from.Add(window)); err != nil {
		return m, err
	}
	return m, nil
}

// deliveredRate waits until every load point sample whose source timestamp
// lies in [from, to) is queryable, then returns their count per second.
// A server working through a backlog sends each item's queued values
// together, one item after another, so the newest sample passing the
// window does not mean the window is complete: the count must also have
// stopped growing.
func deliveredRate(ctx context.Context, conn clickhouse.Conn, site string, from, to time.Time) (float64, error) {
	// The newest load sample must pass the window by this much: plantsim
	// catches up on a stall of up to notifyStall (2 s) with old timestamps.
	const settle = 3 * time.Second
	deadline := time.Now().Add(time.Minute)
	for {
		var newest int64
		if err := conn.QueryRow(ctx, "SELECT max(ts_ns) FROM samples WHERE site_id = ? AND startsWith(point_id, ?)", site, plantsim.LoadIDPrefix).Scan(&newest); err != nil {
			return 0, fmt.Errorf("delivered: %w", err)
		}
		if newest >= to.Add(settle).UnixNano() {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("delivered: samples up to %s not queryable after a minute (newest %s)", to.Format(time.RFC3339Nano), time.Unix(0, newest).Format(time.RFC3339Nano))
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	count := func() (uint64, error) {
		var n uint64
		// Distinct (point, time): a batch stored twice must not count twice.
		err := conn.QueryRow(ctx, `SELECT uniqExact(point_id, ts_ns) FROM samples
WHERE site_id = ? AND startsWith(point_id, ?) AND ts_ns >= ? AND ts_ns < ?`,
			site, plantsim.LoadIDPrefix, from.UnixNano(), to.UnixNano()).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("delivered: %w", err)
		}
		return n, nil
	}
	n, err := count()
	for err == nil && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(settle):
		}
		var again uint64
		if again, err = count(); again == n {
			break
		}
		n = again
	}
	if err != nil {
		return 0, err
	}
	return float64(n) / to.Sub(from).Seconds(), nil
}

// simLosses reads plantsim's newest stats line in its log: the values its
// subscriptions discarded from full queues plus the notifications it
// could not queue, since it started.
func simLosses(logPath string) (uint64, bool) {
	data, err := os.ReadFile(logPath)
	if err != nil {
		return 0, false
	}
	lines := strings.Split(string(data), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if !strings.Contains(lines[i], "value changes") {
			continue
		}
		var total uint64
		found := 0
		for _, f := range strings.Fields(lines[i]) {
			for _, key := range []string{"dropped_notifications=", "overflowed_values="} {
				if v, ok := strings.CutPrefix(f, key); ok {
					n, err := strconv.ParseUint(v, 10, 64)
					if err != nil {
						return 0, false
					}
					total += n
					found++
				}
			}
		}
		return total, found == 2
	}
	return 0, false
}

// addLosses reports where samples the plant offered were lost: inside
// plantsim (its queues) and after it (the collector).
func addLosses(sec *Section, prefix string, m agentLoad) {
	if m.simLost < 0 {
		sec.note("%splantsim's losses not known (no stats line in its log).", prefix)
		return
	}
	versus := fmt.Sprintf("plantsim offers %s samples/s", human(m.offered))
	sec.add(Row{Measure: prefix + "samples lost inside plantsim's OPC UA server (item queues overflowed)", Value: m.simLost, Unit: "samples/s",
		Versus: versus, Ratio: m.simLost / m.offered})
	collector := max(m.offered-m.delivered-m.simLost, 0)
	sec.add(Row{Measure: prefix + "samples lost by the collector (offered − delivered − plantsim's loss)", Value: collector, Unit: "samples/s",
		Versus: versus, Ratio: collector / m.offered})
}
