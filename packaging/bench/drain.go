package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/dgraph-io/badger/v4"

	agentbuffer "github.com/lifeline-telemetry/lifeline/agent/buffer"
	agentservice "github.com/lifeline-telemetry/lifeline/agent/service"
	aggmetrics "github.com/lifeline-telemetry/lifeline/aggregator/metrics"
	"github.com/lifeline-telemetry/lifeline/packaging/launch"
)

const drainTarget = 300_000 // samples/s

// drain fills an agent's buffer with 5,000,000 samples, as an outage
// would, measures Badger's raw read rate of that buffer, then starts the
// agent and times the backlog until all of it is acked.
func (r *Runner) drain(ctx context.Context, sec *Section) error {
	const size, points = 2000, 1000
	total := 5_000_000
	if r.opts.Short {
		total = 500_000
	}
	n := total / size
	// plantsim runs (the agent needs its source) but nearly idle: the
	// backlog is what is measured.
	p, err := r.startPlant(ctx, "lifeline_bench_drain", "DRAIN01", points, 0.01, nil)
	if err != nil {
		return err
	}
	defer p.stop()
	defer r.ch.dropDatabase(p.database)
	dir := filepath.Join(r.dir, "buffer-"+p.site)

	// The backlog: a 5,000-second outage of 1,000 points at 1 Hz.
	r.opts.Logf("drain: writing %d samples to the agent's buffer", total)
	bytes, err := writeBacklog(dir, n, size, points)
	if err != nil {
		return err
	}
	rawRead, err := rawReadRate(dir, n)
	if err != nil {
		return err
	}
	rawRead *= size

	r.opts.Logf("drain: starting the agent")
	took, ackMean, u, err := r.timeDrain(ctx, p, total)
	if err != nil {
		return err
	}
	rate := float64(total) / took.Seconds()

	conn, err := r.ch.open(p.database)
	if err != nil {
		return err
	}
	defer conn.Close()
	var rows uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM samples WHERE site_id = ? AND backfill = 1", p.site).Scan(&rows); err != nil {
		return err
	}
	sec.add(Row{Measure: "drain", Value: rate, Unit: "samples/s", Target: "≥ 300,000", Met: atLeast(rate, drainTarget),
		Versus: fmt.Sprintf("raw Badger read of the same buffer %s samples/s", human(rawRead)), Ratio: rate / rawRead})
	// The backlog is an outage of points points at 1 Hz: the plant's live
	// rate is what the agent adds to it while it drains.
	live := float64(points)
	sec.add(Row{Measure: "drain, against the live rate of the plant the backlog came from (1,000 points at 1 Hz)", Value: rate, Unit: "samples/s",
		Target: "≥ 20 × live", Met: atLeast(rate, 20*live), Versus: fmt.Sprintf("live %s samples/s", human(live)), Ratio: rate / live})
	sec.add(Row{Measure: "time to drain", Value: took.Seconds(), Unit: "s"})
	perSample := float64(bytes) / float64(total)
	sec.add(Row{Measure: "agent buffer bytes per sample (the queue's accounting)", Value: perSample, Unit: "bytes/sample"})
	sec.add(Row{Measure: fmt.Sprintf("agent buffer for a day's outage of a %s-point plant at 1 Hz", human(plantPoints)),
		Value: perSample * plantPoints * 86400 / 1e9, Unit: "GB"})
	sec.add(Row{Measure: "raw Badger read of the backlog", Value: rawRead, Unit: "samples/s"})
	sec.add(Row{Measure: "mean ack latency at the aggregator", Value: ackMean * 1000, Unit: "ms"})
	sec.add(Row{Measure: "agent CPU while draining", Value: u.CPUCores, Unit: "cores"})
	sec.add(Row{Measure: "agent RSS while draining (max)", Value: float64(u.RSSMax) / 1e6, Unit: "MB"})
	sec.note("Backlog: %d entries of %d samples (%s MB in the queue's accounting) written by the agent's queue before the agent starts; plantsim runs nearly idle (0.01 Hz) so the agent has its source. Timed from the uplink connecting until the agent's acked counter grew by %d; %d back-filled rows were in ClickHouse afterwards.",
		n, size, human(float64(bytes)/1e6), total, rows)
	return nil
}

// writeBacklog fills the buffer at dir with n batches of size samples
// through the agent's own queue, so the agent finds the layout it writes,
// and returns the queue's byte count.
func writeBacklog(dir string, n, size, points int) (int64, error) {
	start := time.Now().Add(-3 * time.Hour)
	opts := agentbuffer.DefaultOptions()
	opts.SyncWrites = false
	q, err := agentbuffer.Open(dir, opts)
	if err != nil {
		return 0, err
	}
	for i := 0; i < n; i += 100 {
		k := min(100, n-i)
		batches, err := encodedBatches(k, size, points, start.Add(time.Duration(i*size/points)*time.Second), time.Second)
		if err != nil {
			q.Close()
			return 0, err
		}
		for _, b := range batches {
			if _, err := q.Append(b); err != nil {
				q.Close()
				return 0, err
			}
		}
	}
	if err := q.Sync(); err != nil {
		q.Close()
		return 0, err
	}
	bytes := q.Stats().Bytes
	return bytes, q.Close()
}

// rawReadRate is Badger's own read rate of the n entries at dir, in
// entries/s: the ceiling the agent's drain is compared with.
func rawReadRate(dir string, n int) (float64, error) {
	db, err := badger.Open(badger.DefaultOptions(dir).WithLoggingLevel(badger.WARNING).WithMetricsEnabled(false))
	if err != nil {
		return 0, fmt.Errorf("open the buffer with badger: %w", err)
	}
	defer db.Close()
	return rawBadgerRead(db, n)
}

// timeDrain starts the agent and times its backlog of total samples from
// the uplink connecting (not from process start, which is not drain work)
// until all are acked. It returns the time taken, the aggregator's mean
// ack latency and the agent's resource use meanwhile.
func (r *Runner) timeDrain(ctx context.Context, p *plant, total int) (time.Duration, float64, Usage, error) {
	if err := r.startAgent(p); err != nil {
		return 0, 0, Usage{}, err
	}
	use := meterUsage(p.agent.Pid())
	m, err := p.waitAgent(ctx, "the uplink to connect", 2*time.Minute, func(m map[string]float64) bool {
		return m[agentservice.MetricUplinkConnected] == 1
	})
	if err != nil {
		return 0, 0, Usage{}, err
	}
	t0, acked0 := time.Now(), m[agentservice.MetricSamplesAckedTotal]
	if _, err := p.waitAgent(ctx, "the backlog to drain", 10*time.Minute, func(m map[string]float64) bool {
		return m[agentservice.MetricSamplesAckedTotal]-acked0 >= float64(total)
	}); err != nil {
		return 0, 0, Usage{}, err
	}
	took := time.Since(t0)
	ackMean := 0.0
	if am, err := launch.Scrape(p.agg.metrics); err == nil && am[aggmetrics.IngestAckLatencySeconds+"_count"] > 0 {
		ackMean = am[aggmetrics.IngestAckLatencySeconds+"_sum"] / am[aggmetrics.IngestAckLatencySeconds+"_count"]
	}
	return took, ackMean, use.stop(), nil
}
