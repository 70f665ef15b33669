package bench

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/lifeline-telemetry/lifeline/aggregator/metrics"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
)

// ingestTarget is the first bar for 10 agents, in samples/s.
const ingestTarget = 500_000

// ingestShare is the share of the raw limit (with as many connections as
// the writer's inserts) the aggregator must sustain at 10 and 100 agents.
const ingestShare = 0.8

// ingest measures the aggregator under K concurrent agents against the raw
// clickhouse-go insert limit into the same table with as many connections
// as the writer runs inserts, then the ack latency at half the 10-agent
// rate, then 10 agents beside 1,000 idle ones, then 10 and 100 agents
// again with one insert at a time.
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

	inserts := writer.DefaultOptions().Inserts
	limit, mix, err := r.insertLimit(ctx, db, inserts, sec)
	if err != nil {
		return err
	}
	if err := settle(ctx, r.ch, db, agg); err != nil {
		return err
	}
	opts := LoadOptions{Addr: agg.addr, PointsPerAgent: 1000, BatchSamples: 2000, MaxInFlight: 32,
		Warmup: r.window(3 * time.Second), Duration: r.window(12 * time.Second)}
	versus := fmt.Sprintf("raw insert limit, %d connections, %s rows/s", inserts, human(limit))
	runs, err := r.ingestByAgents(ctx, agg, db, opts, []int{1, 10, 100}, "", versus, limit, sec)
	if err != nil {
		return err
	}
	rates := map[int]float64{}
	for k, res := range runs {
		rates[k] = res.Rate
	}
	if mix > 0 && rates[100] > 0 {
		// The limit above is one site a block, where the rollup views write
		// a row per point and 100 samples; 100 agents' inserts write one
		// per point and one or two (docs/scaling.md, the rollup views).
		sec.add(Row{Measure: "100 agents: sustained, against the raw insert of the same mix", Value: rates[100], Unit: "samples/s",
			Versus: fmt.Sprintf("raw insert, %d connections, 50 sites a block, %s rows/s", inserts, human(mix)), Ratio: rates[100] / mix})
	}
	if rates[10] > 0 {
		if err := r.halfLoad(ctx, agg, opts, rates[10], sec); err != nil {
			return err
		}
	}
	if err := r.ingestUnwindowed(ctx, agg, db, opts, runs, sec); err != nil {
		return err
	}
	if err := r.idleLoad(ctx, agg, db, opts, sec); err != nil {
		return err
	}
	agg.Stop(15 * time.Second)
	if err := r.ingestOneInsert(ctx, opts, rates, sec); err != nil {
		return err
	}
	sec.note("Load generator: each agent encodes a few batches of samples once and then only each batch's sequence number and timestamps (current when sent, so alarms are evaluated on live data), so that on this shared machine it takes little CPU from the aggregator and ClickHouse (remote agents encode on their own machines); %d points per agent, batches of %d samples (the agent's default), up to %d batches awaiting an ack per agent (the agent's default), one gRPC connection per agent, plain text and uncompressed on loopback (agents compress with zstd by default, which adds decoding, ~44 bytes a sample, to the aggregator's work at the rate proto/zstd BenchmarkDecompress shows below); it runs in the bench process on the same cores.",
		opts.PointsPerAgent, opts.BatchSamples, opts.MaxInFlight)
	sec.note("Aggregator: a lifeline-aggregator process with its default writer (max_rows 100,000, max_delay 200 ms, %d inserts at once, the next starting beside a running one once 25,000 rows wait); an ack leaves only after ClickHouse committed the batch's insert. CPU and RSS read from /proc over the window.", inserts)
	sec.note("Runs one after another: each starts once the rows of the one before are committed, the aggregator's alarm evaluator has caught up (lifeline_alarm_queued_samples and lifeline_alarm_readback_sites at 0: batches that did not fit its queue under a flood are read back from ClickHouse) and ClickHouse has finished merging the parts of the database (waited for up to two minutes in all), so that no run measures the read-backs or merges of an earlier one.")
	sec.note("Where the ack latency goes: from the writer's metrics (lifeline_writer_queue_wait_seconds, _insert_duration_seconds, _turn_wait_seconds, _rows_total over _inserts_total) read before and after the run, warm-up included; the rest is the batch's way to the writer (gRPC, decoding, a Submit waiting for max_pending_rows) and the ack's way back, the mean ack latency less the writer's means.")
	sec.note("Limit: the same 13 columns of the same table, inserted by clickhouse-go's columnar appends from pre-built slices in a loop, one insert at a time per connection, on as many connections as the writer runs inserts (%d).", inserts)
	sec.note("Limit with 50 sites a block: the same, but each 2,000 rows of a block belong to the next of 50 sites, as in a writer insert under 100 agents; the rollups' materialized views then write a row per site, point and minute, 50 times as many as from one site's block, and ClickHouse's own work per row grows with them.")
	sec.note("Without its views: the same 50-site blocks into a table made AS samples in a database of its own, where no materialized view fires; the ratio to the insert with them is what the minute and hour rollups and the ledger cost an insert of many sites.")
	sec.note("Admission window: the aggregator grants each stream an equal share of writer.max_pending_rows as unacked samples (Welcome and Ack window_samples), and agents, like the load generator, send no more; \"ignoring the admission window\" runs the same load generator as an older agent, up to %d batches unacked whatever the grant, against the same aggregator after the runs above.", opts.MaxInFlight)
	sec.note("One insert at a time: a second lifeline-aggregator with `writer: {inserts: 1}` (the writer before inserts ran side by side), the same load, into a database of its own, after the runs above.")
	return nil
}

// ingestOneInsert runs 10 and 100 agents against an aggregator whose
// writer runs one insert at a time, compared with the default writer's
// rates of the same run.
func (r *Runner) ingestOneInsert(ctx context.Context, opts LoadOptions, rates map[int]float64, sec *Section) error {
	const db = "lifeline_bench_ingest_one"
	if err := r.ch.freshDatabase(ctx, db); err != nil {
		return err
	}
	defer r.ch.dropDatabase(db)
	agg, err := r.startAggregatorWith(ctx, db, "writer: {inserts: 1}\n")
	if err != nil {
		return err
	}
	defer agg.Stop(15 * time.Second)
	opts.Addr = agg.addr
	one, err := r.ingestByAgents(ctx, agg, db, opts, []int{10, 100}, "one insert at a time, ", "", 0, sec)
	if err != nil {
		return err
	}
	for _, k := range []int{10, 100} {
		if one[k].Rate > 0 {
			sec.add(Row{Measure: fmt.Sprintf("%d agents: sustained, default writer", k), Value: rates[k], Unit: "samples/s",
				Versus: "one insert at a time", Ratio: rates[k] / one[k].Rate,
				Change: "writer: inserts side by side (2)", Before: one[k].Rate})
		}
	}
	return nil
}

// insertLimit measures the raw insert limit: the same rows, 100,000 a
// block (the writer's max_rows), straight into the same table, on one
// connection and on n; it returns the limit on n, and on n with 50 sites a
// block (0 when n is 1).
func (r *Runner) insertLimit(ctx context.Context, db string, n int, sec *Section) (limitN, mix float64, err error) {
	conn, err := r.ch.open(db)
	if err != nil {
		return 0, 0, err
	}
	block := newRawColumns("RAW", 1000, 100_000)
	limit, err := rawInsertLimit(ctx, conn, block, r.window(10*time.Second))
	conn.Close()
	if err != nil {
		return 0, 0, fmt.Errorf("raw insert limit: %w", err)
	}
	sec.add(Row{Measure: "raw clickhouse-go insert limit (1 connection, columnar, 100,000-row blocks)", Value: limit, Unit: "rows/s"})
	if n <= 1 {
		return limit, 0, nil
	}
	limitN, err = rawInsertParallel(ctx, r.ch, db, block, n, r.window(10*time.Second))
	if err != nil {
		return 0, 0, fmt.Errorf("raw insert on %d connections: %w", n, err)
	}
	sec.add(Row{Measure: fmt.Sprintf("raw insert, %d connections at once (as many as the writer's inserts)", n), Value: limitN, Unit: "rows/s",
		Versus: "1 connection", Ratio: limitN / limit})
	mixBlock := newRawSites("MIX", 50, 1000, 100_000)
	mix, err = rawInsertParallel(ctx, r.ch, db, mixBlock, n, r.window(10*time.Second))
	if err != nil {
		return 0, 0, fmt.Errorf("raw insert of 50 sites a block: %w", err)
	}
	sec.add(Row{Measure: fmt.Sprintf("raw insert, %d connections, each block 50 sites' batches of 2,000 rows (a 100-agent insert's mix)", n),
		Value: mix, Unit: "rows/s", Versus: "one site a block", Ratio: mix / limitN})
	bare, err := r.insertWithoutViews(ctx, db, mixBlock, n)
	if err != nil {
		return 0, 0, fmt.Errorf("raw insert without views: %w", err)
	}
	sec.add(Row{Measure: fmt.Sprintf("raw insert, %d connections, the same 50 sites a block into samples without its views (rollups, ledger)", n),
		Value: bare, Unit: "rows/s", Versus: "with them", Ratio: bare / mix})
	return limitN, mix, nil
}

// insertWithoutViews inserts block on n connections into a copy of db's
// samples table that has no views: set beside the same insert into db, it
// tells what the rollups' and the ledger's views cost an insert.
func (r *Runner) insertWithoutViews(ctx context.Context, db string, block *rawColumns, n int) (float64, error) {
	bare := db + "_noviews"
	if err := r.ch.freshDatabase(ctx, bare); err != nil {
		return 0, err
	}
	defer r.ch.dropDatabase(bare)
	conn, err := r.ch.open(bare)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	// 18.x creates LowCardinality columns only when asked to.
	var lc uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.settings WHERE name = 'allow_experimental_low_cardinality_type' AND value = '0'").Scan(&lc); err != nil {
		return 0, fmt.Errorf("settings: %w", err)
	}
	cctx := ctx
	if lc > 0 {
		cctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"allow_experimental_low_cardinality_type": 1}))
	}
	if err := conn.Exec(cctx, "CREATE TABLE samples AS "+db+".samples"); err != nil {
		return 0, fmt.Errorf("copy samples table: %w", err)
	}
	return rawInsertParallel(ctx, r.ch, bare, block, n, r.window(10*time.Second))
}

// ingestUnwindowed runs 10 and 100 agents that ignore the admission window
// against the same aggregator and compares them with the runs that honour it.
func (r *Runner) ingestUnwindowed(ctx context.Context, agg *aggregatorProc, db string, opts LoadOptions, windowed map[int]LoadResult, sec *Section) error {
	opts.IgnoreWindow, opts.Site = true, "OLD"
	old, err := r.ingestByAgents(ctx, agg, db, opts, []int{10, 100}, "ignoring the admission window, ", "", 0, sec)
	if err != nil {
		return err
	}
	for _, k := range []int{10, 100} {
		w, o := windowed[k], old[k]
		if o.Rate <= 0 || w.AckP99 <= 0 {
			continue
		}
		const change = "ingest: admission window (unacked samples granted per stream)"
		sec.add(Row{Measure: fmt.Sprintf("%d agents: sustained, honouring the window", k), Value: w.Rate, Unit: "samples/s",
			Versus: "ignoring it", Ratio: w.Rate / o.Rate, Change: change, Before: o.Rate})
		sec.add(Row{Measure: fmt.Sprintf("%d agents: ack latency p99, honouring the window", k), Value: ms(w.AckP99), Unit: "ms",
			Versus: "ignoring it", Ratio: float64(w.AckP99) / float64(o.AckP99), Change: change, Before: ms(o.AckP99)})
	}
	return nil
}

// ingestByAgents runs the load with each count of agents as fast as acks
// allow and returns what each measured. With a limit, the 10- and
// 100-agent rates are held to ingestShare of it.
func (r *Runner) ingestByAgents(ctx context.Context, agg *aggregatorProc, db string, opts LoadOptions, counts []int,
	label, versus string, limit float64, sec *Section) (map[int]LoadResult, error) {
	rates := map[int]LoadResult{}
	for _, k := range counts {
		o := opts
		o.Agents, o.Site = k, fmt.Sprintf("%sK%d_", opts.Site, k) // a prefix apart per run: the ledger would skip batches seen before
		r.opts.Logf("ingest: %s%d agents", label, k)
		meter, self := meterUsage(agg.Pid()), meterUsage(os.Getpid())
		before := scrapeWriter(agg)
		res, err := runLoad(ctx, o)
		use, gen := meter.stop(), self.stop()
		after := scrapeWriter(agg)
		if err != nil {
			return nil, fmt.Errorf("%d agents: %w\naggregator log:\n%s", k, err, agg.Tail(3000))
		}
		rates[k] = res
		row := Row{Measure: fmt.Sprintf("%s%d agents: sustained", label, k), Value: res.Rate, Unit: "samples/s"}
		if limit > 0 {
			row.Versus, row.Ratio = versus, res.Rate/limit
		}
		if limit > 0 && (k == 10 || k == 100) {
			row.Target = fmt.Sprintf("≥ %.1f × limit", ingestShare)
			if k == 10 {
				row.Target = fmt.Sprintf("≥ 500,000 and ≥ %.1f × limit", ingestShare)
			}
			met := res.Rate >= ingestShare*limit && (k != 10 || res.Rate >= ingestTarget)
			row.Met = &met
		}
		sec.add(row)
		if err := settle(ctx, r.ch, db, agg); err != nil {
			return nil, err
		}
		p := fmt.Sprintf("%s%d agents: ", label, k)
		sec.add(Row{Measure: p + "ack latency p50", Value: ms(res.AckP50), Unit: "ms"})
		p99 := Row{Measure: p + "ack latency p99", Value: ms(res.AckP99), Unit: "ms"}
		if k == 100 && limit > 0 {
			p99.Target, p99.Met = "< 3,000", atMost(ms(res.AckP99), 2999.999)
		}
		sec.add(p99)
		sec.add(Row{Measure: p + "aggregator CPU", Value: use.CPUCores, Unit: "cores"})
		rss := Row{Measure: p + "aggregator RSS (max)", Value: mib(use.RSSMax), Unit: "MiB"}
		if k == 100 && limit > 0 {
			rss.Target, rss.Met = "< 500", atMost(mib(use.RSSMax), 499.999)
		}
		sec.add(rss)
		sec.add(Row{Measure: p + "load generator CPU (same machine)", Value: gen.CPUCores, Unit: "cores"})
		if limit > 0 && k > 1 {
			addGCRow(sec, p, before, after)
		}
		if ws, ok := writerBetween(before, after); ok && limit > 0 && k > 1 {
			addWriterRows(sec, p, ws, ms(res.AckMean))
		}
	}
	return rates, nil
}

// halfLoad offers 10 agents half of what they sustained: the ack latency
// target is for an aggregator with headroom, not a saturated one.
func (r *Runner) halfLoad(ctx context.Context, agg *aggregatorProc, opts LoadOptions, rate10 float64, sec *Section) error {
	o := opts
	o.Agents, o.Site, o.Rate = 10, "HALF_", rate10/2
	r.opts.Logf("ingest: 10 agents at %.0f samples/s", o.Rate)
	before := scrapeWriter(agg)
	res, err := runLoad(ctx, o)
	if err != nil {
		return fmt.Errorf("half load: %w", err)
	}
	after := scrapeWriter(agg)
	sec.add(Row{Measure: fmt.Sprintf("10 agents at half that load (%s samples/s offered): ack latency p99", human(o.Rate)),
		Value: ms(res.AckP99), Unit: "ms", Target: "< 1,000", Met: atMost(ms(res.AckP99), 999.999)})
	sec.add(Row{Measure: "10 agents at half load: ack latency p50", Value: ms(res.AckP50), Unit: "ms"})
	sec.add(Row{Measure: "10 agents at half load: delivered", Value: res.Rate, Unit: "samples/s"})
	if ws, ok := writerBetween(before, after); ok {
		addWriterRows(sec, "10 agents at half load: ", ws, ms(res.AckMean))
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mib(b int64) float64        { return float64(b) / (1 << 20) }

// settle waits until the samples table of db stops growing (batches a
// finished run left in the aggregator's writer are committed), then until
// agg's alarm evaluator has caught up (nothing queued, nothing waiting to
// be read back from ClickHouse), then until ClickHouse has no merge of
// db's tables running, at most two minutes in all: a run's parts would
// otherwise still be merging, and its dropped batches still being read
// back, through the next run, which then measures the two loads at once
// and, run after run, more of the earlier ones.
func settle(ctx context.Context, ch *clickHouse, db string, agg *aggregatorProc) error {
	conn, err := ch.open(db)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline := time.Now().Add(2 * time.Minute)
	pause := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
			return nil
		}
	}
	var last uint64 = 1<<64 - 1
	for time.Now().Before(deadline) {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM samples").Scan(&n); err != nil {
			return fmt.Errorf("settle: %w", err)
		}
		if n == last {
			break
		}
		last = n
		if err := pause(); err != nil {
			return err
		}
	}
	for time.Now().Before(deadline) {
		// A scrape that fails (the aggregator too busy to answer within
		// its timeout) counts as not settled.
		m := scrapeWriter(agg)
		if m != nil && m[metrics.WriterPendingRows] == 0 && m[metrics.AlarmQueuedSamples] == 0 && m[metrics.AlarmReadBackSites] == 0 {
			break
		}
		if err := pause(); err != nil {
			return err
		}
	}
	for time.Now().Before(deadline) {
		var merges uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.merges WHERE database = ?", db).Scan(&merges); err != nil {
			return fmt.Errorf("settle: merges: %w", err)
		}
		if merges == 0 {
			return nil
		}
		if err := pause(); err != nil {
			return err
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
