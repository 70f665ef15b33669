package bench

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"
)

// ingestTarget is the first bar for 10 agents, in samples/s.
const ingestTarget = 500_000

// ingest measures the aggregator under K concurrent agents against the raw
// clickhouse-go insert limit into the same table, then the ack latency at
// half the 10-agent rate.
func (r *Runner) ingest(ctx context.Context, sec *Section) error {
	const db = "lifeline_bench_ingest"
	if err := r.ch.freshDatabase(ctx, db); err != nil {
		return err
	}
	defer r.ch.dropDatabase(db)
	agg, err := r.startAggregator(ctx, db) // migrates the schema
	if err != nil {
		return err
	}
	defer agg.Stop(15 * time.Second)

	limit, err := r.insertLimit(ctx, db, sec)
	if err != nil {
		return err
	}
	opts := LoadOptions{Addr: agg.addr, PointsPerAgent: 1000, BatchSamples: 2000, MaxInFlight: 32,
		Warmup: r.window(3 * time.Second), Duration: r.window(12 * time.Second)}
	rate10, err := r.ingestByAgents(ctx, agg, db, opts, limit, sec)
	if err != nil {
		return err
	}
	if rate10 > 0 {
		if err := r.halfLoad(ctx, opts, rate10, sec); err != nil {
			return err
		}
	}
	sec.note("Load generator: each agent encodes a few batches of samples once and then only each batch's sequence number, so that on this shared machine it takes little CPU from the aggregator and ClickHouse (remote agents encode on their own machines); %d points per agent, batches of %d samples (the agent's default), up to %d batches awaiting an ack per agent (the agent's default), one gRPC connection per agent, plain text and uncompressed on loopback (agents compress with zstd by default, which adds decoding, ~44 bytes a sample, to the aggregator's work at the rate proto/zstd BenchmarkDecompress shows below); it runs in the bench process on the same cores.",
		opts.PointsPerAgent, opts.BatchSamples, opts.MaxInFlight)
	sec.note("Aggregator: a lifeline-aggregator process with its default writer (max_rows 100,000, max_delay 200 ms); an ack leaves only after ClickHouse committed the batch's insert. CPU and RSS read from /proc over the window.")
	sec.note("Limit: the same 13 columns of the same table, inserted by clickhouse-go's columnar appends from pre-built slices in a loop, one insert at a time (the aggregator's writer also runs one insert at a time).")
	return nil
}

// insertLimit measures the raw insert limit: the same rows, 100,000 a
// block (the writer's max_rows), straight into the same table, on one
// connection and on two.
func (r *Runner) insertLimit(ctx context.Context, db string, sec *Section) (float64, error) {
	conn, err := r.ch.open(db)
	if err != nil {
		return 0, err
	}
	block := newRawColumns("RAW", 1000, 100_000)
	limit, err := rawInsertLimit(ctx, conn, block, r.window(10*time.Second))
	conn.Close()
	if err != nil {
		return 0, fmt.Errorf("raw insert limit: %w", err)
	}
	sec.add(Row{Measure: "raw clickhouse-go insert limit (1 connection, columnar, 100,000-row blocks)", Value: limit, Unit: "rows/s"})
	if limit2, err := rawInsertParallel(ctx, r.ch, db, block, 2, r.window(10*time.Second)); err == nil {
		sec.add(Row{Measure: "raw insert, 2 connections at once", Value: limit2, Unit: "rows/s",
			Versus: "1 connection", Ratio: limit2 / limit})
	} else {
		sec.note("Raw insert on 2 connections not measured: %v", err)
	}
	return limit, nil
}

// ingestByAgents runs the load with 1, 10 and 100 agents as fast as acks
// allow and returns the 10-agent rate, the one the target is set for.
func (r *Runner) ingestByAgents(ctx context.Context, agg *aggregatorProc, db string, opts LoadOptions, limit float64, sec *Section) (float64, error) {
	versus := fmt.Sprintf("raw insert limit %s rows/s", human(limit))
	var rate10 float64
	for _, k := range []int{1, 10, 100} {
		o := opts
		o.Agents, o.Site = k, fmt.Sprintf("K%d_", k)
		r.opts.Logf("ingest: %d agents", k)
		meter, self := meterUsage(agg.Pid()), meterUsage(os.Getpid())
		res, err := runLoad(ctx, o)
		use, gen := meter.stop(), self.stop()
		if err != nil {
			return 0, fmt.Errorf("%d agents: %w\naggregator log:\n%s", k, err, agg.Tail(3000))
		}
		row := Row{Measure: fmt.Sprintf("%d agents: sustained", k), Value: res.Rate, Unit: "samples/s",
			Versus: versus, Ratio: res.Rate / limit}
		if k == 10 {
			rate10 = res.Rate
			row.Target = "≥ 500,000 and ≥ 0.5 × limit"
			met := res.Rate >= ingestTarget && res.Rate >= 0.5*limit
			row.Met = &met
		}
		sec.add(row)
		if err := settle(ctx, r.ch, db); err != nil {
			return 0, err
		}
		sec.add(Row{Measure: fmt.Sprintf("%d agents: ack latency p50", k), Value: ms(res.AckP50), Unit: "ms"})
		sec.add(Row{Measure: fmt.Sprintf("%d agents: ack latency p99", k), Value: ms(res.AckP99), Unit: "ms"})
		sec.add(Row{Measure: fmt.Sprintf("%d agents: aggregator CPU", k), Value: use.CPUCores, Unit: "cores"})
		sec.add(Row{Measure: fmt.Sprintf("%d agents: aggregator RSS (max)", k), Value: mib(use.RSSMax), Unit: "MiB"})
		sec.add(Row{Measure: fmt.Sprintf("%d agents: load generator CPU (same machine)", k), Value: gen.CPUCores, Unit: "cores"})
	}
	return rate10, nil
}

// halfLoad offers 10 agents half of what they sustained: the ack latency
// target is for an aggregator with headroom, not a saturated one.
func (r *Runner) halfLoad(ctx context.Context, opts LoadOptions, rate10 float64, sec *Section) error {
	o := opts
	o.Agents, o.Site, o.Rate = 10, "HALF_", rate10/2
	r.opts.Logf("ingest: 10 agents at %.0f samples/s", o.Rate)
	res, err := runLoad(ctx, o)
	if err != nil {
		return fmt.Errorf("half load: %w", err)
	}
	sec.add(Row{Measure: fmt.Sprintf("10 agents at half that load (%s samples/s offered): ack latency p99", human(o.Rate)),
		Value: ms(res.AckP99), Unit: "ms", Target: "< 1,000", Met: atMost(ms(res.AckP99), 999.999)})
	sec.add(Row{Measure: "10 agents at half load: delivered", Value: res.Rate, Unit: "samples/s"})
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mib(b int64) float64        { return float64(b) / (1 << 20) }

// settle waits until the samples table of db stops growing: batches a
// finished run left in the aggregator's writer are committed, so they do
// not load the next run.
func settle(ctx context.Context, ch *clickHouse, db string) error {
	conn, err := ch.open(db)
	if err != nil {
		return err
	}
	defer conn.Close()
	var last uint64 = 1<<64 - 1
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM samples").Scan(&n); err != nil {
			return fmt.Errorf("settle: %w", err)
		}
		if n == last {
			return nil
		}
		last = n
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return nil
}

// rawInsertParallel runs n raw insert loops at once, each on its own
// connection, and returns their summed rate.
func rawInsertParallel(ctx context.Context, ch *clickHouse, db string, block *rawColumns, n int, d time.Duration) (float64, error) {
	rates := make([]float64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			conn, err := ch.open(db)
			if err != nil {
				errs[i] = err
				return
			}
			defer conn.Close()
			rates[i], errs[i] = rawInsertLimit(ctx, conn, block, d)
		})
	}
	wg.Wait()
	total := 0.0
	for i := range n {
		if errs[i] != nil {
			return 0, errs[i]
		}
		total += rates[i]
	}
	return total, nil
}
