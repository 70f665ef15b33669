package bench

import (
	"context"
	"fmt"
	"os"
	"time"
)

// idleAgents is how many mostly idle agents connect beside the loaded ones.
const idleAgents = 1000

// idleShare is the share of their rate alone the 10 loaded agents must
// keep with the idle agents connected: the idle agents send 10,000
// samples/s, 2 % of the 500,000 the 10 agents are to sustain, so a larger
// loss is the cost of their connections and batches, not of their data.
const idleShare = 0.9

// idleMinWindow is the shortest warm-up and measuring window of the loaded
// agents' runs.
const idleMinWindow = 5 * time.Second

// idleSourceAddrs spreads the idle agents over loopback addresses so no
// address holds more than the aggregator's default 256 streams.
const idleSourceAddrs = 8

// idleLoad runs 10 loaded agents alone, then, on the same aggregator right
// after, the same load beside 1,000 connected agents that each send a
// small batch a second, as plants with few points or a quiet link do.
func (r *Runner) idleLoad(ctx context.Context, agg *aggregatorProc, db string, opts LoadOptions, sec *Section) error {
	loaded := opts
	loaded.Agents, loaded.Site = 10, "ALONE_"
	// Acks of a loaded aggregator take seconds: a window shorter than a
	// few of them counts none, so -short keeps at least 5 s of each.
	loaded.Warmup, loaded.Duration = max(opts.Warmup, idleMinWindow), max(opts.Duration, idleMinWindow)
	r.opts.Logf("ingest: 10 agents, before %d idle agents connect", idleAgents)
	gen, aggAlone, chAlone := meterUsage(os.Getpid()), meterUsage(agg.Pid()), meterUsage(r.ch.pid())
	aloneBefore := scrapeWriter(agg)
	alone, err := runLoad(ctx, loaded)
	genAlone, aggAloneUse, chAloneUse := gen.stop(), aggAlone.stop(), chAlone.stop()
	aloneAfter := scrapeWriter(agg)
	if err != nil {
		return fmt.Errorf("10 agents alone: %w\naggregator log:\n%s", err, agg.Tail(3000))
	}
	if err := settle(ctx, r.ch, db, agg); err != nil {
		return err
	}

	r.opts.Logf("ingest: %d idle agents connect", idleAgents)
	idle := LoadOptions{Addr: agg.addr, Site: "IDLE_", Agents: idleAgents, PointsPerAgent: 10, BatchSamples: 10,
		MaxInFlight: 32, Rate: idleAgents * 10, SourceAddrs: idleSourceAddrs, Duration: time.Hour}
	welcomed := make(chan struct{})
	idle.Welcomed = func() { close(welcomed) }
	ictx, stopIdle := context.WithCancel(ctx)
	defer stopIdle()
	type result struct {
		res LoadResult
		err error
	}
	idleDone := make(chan result, 1)
	start, connecting := time.Now(), meterUsage(agg.Pid())
	go func() {
		res, err := runLoad(ictx, idle)
		idleDone <- result{res, err}
	}()
	select {
	case <-welcomed:
	case got := <-idleDone:
		connecting.stop()
		sec.note("%d idle agents: not measured, they could not connect: %v", idleAgents, got.err)
		return nil
	}
	handshakes, connUse := time.Since(start), connecting.stop()
	quiet := meterUsage(agg.Pid())
	select {
	case <-ctx.Done():
	case <-time.After(r.window(5 * time.Second)):
	}
	quietUse := quiet.stop()

	loaded.Site = "BESIDE_"
	r.opts.Logf("ingest: 10 agents beside %d idle agents", idleAgents)
	meter, gen, chMeter := meterUsage(agg.Pid()), meterUsage(os.Getpid()), meterUsage(r.ch.pid())
	besideBefore := scrapeWriter(agg)
	beside, err := runLoad(ctx, loaded)
	use, genBeside, chBeside := meter.stop(), gen.stop(), chMeter.stop()
	besideAfter := scrapeWriter(agg)
	stopIdle()
	idled := <-idleDone
	if err != nil {
		return fmt.Errorf("10 agents beside %d idle agents: %w\naggregator log:\n%s", idleAgents, err, agg.Tail(3000))
	}
	if idled.err != nil {
		sec.note("%d idle agents: failed while the 10 loaded agents ran: %v", idleAgents, idled.err)
	}
	idleRows(sec, alone, beside, idled.res, handshakes, connUse, quietUse, use)
	r.costRows(sec, alone, beside, aggAloneUse, use, chAloneUse, chBeside)
	// Collecting garbage is what the idle agents' buffers and state cost
	// most: the heap nears the memory limit (docs/scaling.md).
	addGCRow(sec, "10 agents alone (just before): ", aloneBefore, aloneAfter)
	addGCRow(sec, "10 agents beside "+human(idleAgents)+" idle agents: ", besideBefore, besideAfter)
	// The generator runs on the same two cores: what the idle agents'
	// connections cost it is CPU that ClickHouse and the aggregator lack.
	sec.add(Row{Measure: "10 agents alone: load generator CPU (same machine)", Value: genAlone.CPUCores, Unit: "cores"})
	sec.add(Row{Measure: "10 agents beside " + human(idleAgents) + " idle agents: load generator CPU, all agents (same machine)",
		Value: genBeside.CPUCores, Unit: "cores", Versus: "10 agents alone", Ratio: ratio(genBeside.CPUCores, genAlone.CPUCores)})
	return settle(ctx, r.ch, db, agg)
}

// costRows reports where the beside run's CPU went, per sample
// delivered: on two shared cores what one process takes, the others lack.
func (r *Runner) costRows(sec *Section, alone, beside LoadResult, aggAlone, aggBeside, chAlone, chBeside Usage) {
	perSample := func(u Usage, rate float64) float64 { return 1e6 * u.CPUCores / max(rate, 1) }
	for _, c := range []struct {
		who           string
		alone, beside Usage
	}{{"aggregator", aggAlone, aggBeside}, {"ClickHouse", chAlone, chBeside}} {
		if c.who == "ClickHouse" && r.ch.pid() == 0 {
			continue // not ours: not measured
		}
		sec.add(Row{Measure: "10 agents alone: " + c.who + " CPU", Value: c.alone.CPUCores, Unit: "cores"})
		if c.who == "ClickHouse" { // the aggregator's is in idleRows
			sec.add(Row{Measure: "10 agents beside " + human(idleAgents) + " idle agents: ClickHouse CPU", Value: c.beside.CPUCores, Unit: "cores"})
		}
		a, b := perSample(c.alone, alone.Rate), perSample(c.beside, beside.Rate)
		sec.add(Row{Measure: "10 agents beside " + human(idleAgents) + " idle agents: " + c.who + " CPU per sample delivered",
			Value: b, Unit: "µs", Versus: "10 agents alone", Ratio: ratio(b, a)})
	}
}

// idleRows reports idleLoad's figures.
func idleRows(sec *Section, alone, beside, idle LoadResult, handshakes time.Duration, connUse, quietUse, use Usage) {
	n := human(idleAgents) + " idle agents"
	with := "10 agents beside " + n + ": "
	sec.add(Row{Measure: "10 agents alone (just before): sustained", Value: alone.Rate, Unit: "samples/s"})
	sec.add(Row{Measure: with + "sustained", Value: beside.Rate, Unit: "samples/s",
		Target: fmt.Sprintf("≥ %.1f × alone", idleShare), Met: atLeast(beside.Rate, idleShare*alone.Rate),
		Versus: "10 agents alone, same aggregator, just before", Ratio: ratio(beside.Rate, alone.Rate)})
	sec.add(Row{Measure: "10 agents alone (just before): ack latency p99", Value: ms(alone.AckP99), Unit: "ms"})
	sec.add(Row{Measure: with + "ack latency p99", Value: ms(beside.AckP99), Unit: "ms",
		Versus: "10 agents alone", Ratio: ratio(ms(beside.AckP99), ms(alone.AckP99))})
	sec.add(Row{Measure: with + "aggregator CPU", Value: use.CPUCores, Unit: "cores"})
	sec.add(Row{Measure: with + "aggregator RSS (max)", Value: mib(use.RSSMax), Unit: "MiB"})
	sec.add(Row{Measure: n + ": all welcomed after", Value: handshakes.Seconds(), Unit: "s"})
	sec.add(Row{Measure: n + ": aggregator RSS (max) while they connect", Value: mib(connUse.RSSMax), Unit: "MiB"})
	sec.add(Row{Measure: n + " alone: aggregator CPU", Value: quietUse.CPUCores, Unit: "cores"})
	sec.add(Row{Measure: n + " alone: aggregator RSS (max)", Value: mib(quietUse.RSSMax), Unit: "MiB"})
	sec.add(Row{Measure: n + ": delivered", Value: idle.Rate, Unit: "samples/s"})
	sec.add(Row{Measure: n + ": ack latency p99", Value: ms(idle.AckP99), Unit: "ms"})
	sec.note("Idle agents: %s more agents, each a gRPC connection of its own from one of %d loopback addresses (the aggregator allows 256 streams per address), %d points, a batch of %d samples a second (%s samples/s together); they connect after the 10 loaded agents ran alone and stay connected while the same 10 agents run again. The target asks the loaded agents to keep %.0f %% of their rate alone: the idle agents' samples are 2 %% of the 500,000 samples/s the loaded agents are to sustain, so a larger loss is the cost of the connections, their batches' per-batch work (ledger, acks, alarm state) and the handshakes.",
		human(idleAgents), idleSourceAddrs, 10, 10, human(idleAgents*10), 100*idleShare)
}

// idleSection runs idleLoad alone, on an aggregator and database of its
// own, so that the cost of idle agents can be measured without the whole
// ingest section (the ingest section runs the same thing in a full run).
func (r *Runner) idleSection(ctx context.Context, sec *Section) error {
	const db = "lifeline_bench_idle"
	if err := r.ch.freshDatabase(ctx, db); err != nil {
		return err
	}
	defer r.ch.dropDatabase(db)
	agg, err := r.startAggregator(ctx, db)
	if err != nil {
		return err
	}
	defer agg.Stop(15 * time.Second)
	r.opts.Logf("idle: aggregator metrics and pprof on %s", agg.metrics)
	opts := LoadOptions{Addr: agg.addr, PointsPerAgent: 1000, BatchSamples: 2000, MaxInFlight: 32,
		Warmup: r.window(3 * time.Second), Duration: r.window(12 * time.Second)}
	return r.idleLoad(ctx, agg, db, opts, sec)
}
