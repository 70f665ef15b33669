package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	agentconfig "github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
	"github.com/lifeline-telemetry/lifeline/packaging/launch"
)

// Settings of the Telegraf runs, as close to the agent run as Telegraf
// allows.
const (
	peerPoints = 10_000
	peerRate   = 10.0
	// peerMetric names Telegraf's metric and so its table.
	peerMetric = "load"
	// peerBatch is metric_batch_size, the rows of one INSERT, and
	// peerFlush the flush_interval: about what the aggregator's writer
	// inserts at this load (its 200 ms delay at 100,000 samples/s). A write
	// that outlasts the interval makes Telegraf warn "did not complete
	// within its flush interval"; the next one starts when it is done.
	peerBatch = 20_000
	peerFlush = 200 * time.Millisecond
	// peerBufferLimit is metric_buffer_limit: 10 s of the offer. The
	// memory buffer drops the oldest metrics beyond it (and says so in its
	// log); the disk buffer is not bounded by it.
	peerBufferLimit = 1_000_000
	// Monitored items' settings, the agent's defaults.
	peerSampling  = 100 * time.Millisecond
	peerQueueSize = 100
)

// peerLoad is what one Telegraf run measured.
type peerLoad struct {
	offered, delivered, inserted float64 // samples/s
	simLost                      float64 // samples/s lost inside plantsim (-1: not known)
	dropped                      float64 // samples/s Telegraf's buffer dropped, from its log
	cpu, simCPU                  float64 // cores
	rss                          float64 // MB
	lagAtEnd                     time.Duration
	log                          telegrafLog
}

// peer runs, in one run and against the same ClickHouse, the Lifeline
// agent, Telegraf with its memory buffer and Telegraf with its disk
// buffer, each reading a fresh plantsim at 10,000 points × 10 Hz into a
// database of its own.
func (r *Runner) peer(ctx context.Context, sec *Section) error {
	if r.opts.Telegraf == "" {
		return errors.New("no Telegraf binary: make bench-peer builds one (-telegraf PATH)")
	}
	window := r.window(20 * time.Second)
	dbs := []string{"lifeline_bench_peer_agent", "lifeline_bench_peer_telegraf_memory", "lifeline_bench_peer_telegraf_disk"}
	defer func() {
		for _, db := range dbs {
			r.ch.dropDatabase(db)
		}
	}()
	var loads []string
	a, err := r.agentLoad(ctx, dbs[0], peerPoints, peerRate, publishingInterval, window)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	loads = append(loads, loadAverage())
	mem, err := r.telegrafLoad(ctx, dbs[1], "memory", window)
	if err != nil {
		return fmt.Errorf("telegraf, memory buffer: %w", err)
	}
	loads = append(loads, loadAverage())
	// Telegraf's output adds metrics to its buffer one at a time, and its
	// disk buffer writes each Add as a batch of its own to a tidwall/wal
	// log, fsync'd (buffer_disk_sync defaults to true): one fsync per
	// metric. While it waits the input's channels fill, the OPC UA client
	// stops publishing and the server overwrites values: nothing is logged.
	disk, err := r.telegrafLoad(ctx, dbs[2], "disk", window)
	if err != nil {
		return fmt.Errorf("telegraf, disk buffer: %w", err)
	}
	loads = append(loads, loadAverage())
	addPeerRows(sec, a, mem, disk)
	sec.note("In one run, one after the other, each against a fresh lifeline-plantsim (10,000 load points changing at 10 Hz) and a database of its own on the same ClickHouse: lifeline-agent with its fsync'd Badger buffer through lifeline-aggregator (as in section 2), then Telegraf %s (built by `make bench-peer` from the pinned release through the Go module proxy with only inputs.opcua_listener and outputs.sql) with buffer_strategy \"memory\", then with \"disk\" (a write-ahead log, buffer_disk_sync at its default, true). Window %.0f s each, after a warm-up.", telegrafVersion(r.opts.Telegraf), window.Seconds())
	sec.note("Telegraf's settings, the agent's where Telegraf has them: subscription_interval %s (the agent's publishing_interval), sampling_interval %s and queue_size %d per node, timestamp = \"source\"; the 10,000 nodes over four inputs.opcua_listener of 2,500 (each one session and one subscription; plantsim states 2,500 as its MaxMonitoredItemsPerSubscription and the agent makes four subscriptions); outputs.sql with driver clickhouse (clickhouse-go v2, LZ4), batch_transactions = true (without it every row is an INSERT of its own), metric_batch_size %d and flush_interval %s (about one INSERT per 200 ms, as the aggregator's writer), metric_buffer_limit %d. Only the load points are read: outputs.sql puts every field in a column of one table, and the plant model's points are of other types.", publishingInterval, peerSampling, peerQueueSize, peerBatch, peerFlush, peerBufferLimit)
	sec.note("Telegraf's table is made beforehand (its default CREATE TABLE has no ENGINE for 18.16): the source timestamp as text, since 18.16 has no DateTime64 and DateTime keeps whole seconds; a materialized ts_ns parsed from it. Delivered is counted as for the agent: distinct (point, source time) rows whose source time lies in the window, once the newest row passed the window's end by 3 s or, for a collector that falls behind, after at most %s more; inserted is the table's row count over the window's wall time. Telegraf's own drops are its \"Metric buffer overflow\" warnings; what is missing without a log line is offered − delivered − that − plantsim's own loss (samples still queued in Telegraf when counted are in it too: the lag rows tell). The agent's CPU does not include the aggregator's (shown apart), which Telegraf's includes: it inserts into ClickHouse itself. A collector that falls behind reads and writes less and so spends less: the CPU per 100,000 samples/s delivered, and per 100,000 written (the agent's acked counter, Telegraf's rows inserted), compare the work done.", peerSettleLimit(r.opts.Short))
	sec.note("The machine's 1-minute load average after each of the three runs: %s (on %d cores). Above the core count every process waits for CPU: the CPU figures are then what each collector got, not what it would use, and the CPU per sample compares them.", strings.Join(loads, ", "), r.report.Machine.Cores)
	if mem.log.Errors+disk.log.Errors > 0 {
		sec.note("Telegraf logged errors: memory buffer %d (first: %s), disk buffer %d (first: %s).", mem.log.Errors, mem.log.FirstError, disk.log.Errors, disk.log.FirstError)
	}
	return nil
}

// addPeerRows reports the three collectors side by side.
func addPeerRows(sec *Section, a agentLoad, mem, disk peerLoad) {
	versus := fmt.Sprintf("plantsim offers %s samples/s", human(a.offered))
	sec.add(Row{Measure: "Lifeline agent (fsync'd buffer): samples delivered", Value: a.delivered, Unit: "samples/s", Versus: versus, Ratio: a.delivered / a.offered})
	sec.add(Row{Measure: "Telegraf, memory buffer: samples delivered", Value: mem.delivered, Unit: "samples/s", Versus: versus, Ratio: mem.delivered / mem.offered})
	sec.add(Row{Measure: "Telegraf, disk buffer: samples delivered", Value: disk.delivered, Unit: "samples/s", Versus: versus, Ratio: disk.delivered / disk.offered})
	sec.add(Row{Measure: "Lifeline agent: samples acked per wall second", Value: a.acked, Unit: "samples/s"})
	sec.add(Row{Measure: "Telegraf, memory buffer: rows inserted per wall second", Value: mem.inserted, Unit: "rows/s"})
	sec.add(Row{Measure: "Telegraf, disk buffer: rows inserted per wall second", Value: disk.inserted, Unit: "rows/s"})
	if n := len(a.lags); n > 0 {
		sec.add(Row{Measure: "Lifeline agent: newest source time behind the wall clock at the window's end", Value: ms(a.lags[n-1]), Unit: "ms"})
	}
	sec.add(Row{Measure: "Telegraf, memory buffer: newest source time behind the wall clock at the window's end", Value: ms(mem.lagAtEnd), Unit: "ms"})
	sec.add(Row{Measure: "Telegraf, disk buffer: newest source time behind the wall clock at the window's end", Value: ms(disk.lagAtEnd), Unit: "ms"})
	for _, l := range []struct {
		name string
		m    peerLoad
	}{{"memory", mem}, {"disk", disk}} {
		sec.add(Row{Measure: "Telegraf, " + l.name + " buffer: dropped by its full buffer (logged)", Value: l.m.dropped, Unit: "samples/s", Versus: versus, Ratio: l.m.dropped / l.m.offered})
		if l.m.simLost >= 0 {
			silent := max(l.m.offered-l.m.delivered-l.m.dropped-l.m.simLost, 0)
			sec.add(Row{Measure: "Telegraf, " + l.name + " buffer: lost inside plantsim", Value: l.m.simLost, Unit: "samples/s", Versus: versus, Ratio: l.m.simLost / l.m.offered})
			sec.add(Row{Measure: "Telegraf, " + l.name + " buffer: missing without a log line (offered − delivered − logged − plantsim's)", Value: silent, Unit: "samples/s", Versus: versus, Ratio: silent / l.m.offered})
		}
	}
	if a.simLost >= 0 {
		sec.add(Row{Measure: "Lifeline agent: lost inside plantsim", Value: a.simLost, Unit: "samples/s", Versus: versus, Ratio: a.simLost / a.offered})
	}
	agentVs := fmt.Sprintf("agent %s cores", human(a.agentCPU))
	sec.add(Row{Measure: "Lifeline agent CPU", Value: a.agentCPU, Unit: "cores"})
	sec.add(Row{Measure: "Lifeline aggregator CPU (the agent's inserts into ClickHouse)", Value: a.aggCPU, Unit: "cores"})
	sec.add(Row{Measure: "Telegraf CPU, memory buffer", Value: mem.cpu, Unit: "cores", Versus: agentVs, Ratio: ratio(mem.cpu, a.agentCPU)})
	sec.add(Row{Measure: "Telegraf CPU, disk buffer", Value: disk.cpu, Unit: "cores", Versus: agentVs, Ratio: ratio(disk.cpu, a.agentCPU)})
	addPerSample(sec, a, mem, disk)
	agentRSS := fmt.Sprintf("agent %s MB", human(a.agentRSS))
	sec.add(Row{Measure: "Lifeline agent RSS (max)", Value: a.agentRSS, Unit: "MB"})
	sec.add(Row{Measure: "Telegraf RSS (max), memory buffer", Value: mem.rss, Unit: "MB", Versus: agentRSS, Ratio: ratio(mem.rss, a.agentRSS)})
	sec.add(Row{Measure: "Telegraf RSS (max), disk buffer", Value: disk.rss, Unit: "MB", Versus: agentRSS, Ratio: ratio(disk.rss, a.agentRSS)})
	sec.add(Row{Measure: "plantsim CPU, agent run", Value: a.simCPU, Unit: "cores"})
	sec.add(Row{Measure: "plantsim CPU, Telegraf memory buffer run", Value: mem.simCPU, Unit: "cores"})
	sec.add(Row{Measure: "plantsim CPU, Telegraf disk buffer run", Value: disk.simCPU, Unit: "cores"})
	sec.add(Row{Measure: "agent CPU (fsync'd buffer) below Telegraf CPU (memory buffer, no durability)", Value: a.agentCPU, Unit: "cores",
		Target: "< Telegraf memory buffer", Met: below(a.agentCPU, mem.cpu), Versus: fmt.Sprintf("Telegraf memory buffer %s cores", human(mem.cpu)), Ratio: ratio(a.agentCPU, mem.cpu)})
}

// addPerSample reports CPU per sample: a collector that falls behind
// reads and writes less, and so spends less. Delivered counts the
// window's samples that arrived in time, written what reached ClickHouse
// in the window's wall time (the agent's acked counter, Telegraf's rows).
func addPerSample(sec *Section, a agentLoad, mem, disk peerLoad) {
	for _, per := range []struct {
		what                string
		agent, memory, disk float64
	}{
		{"delivered", a.delivered, mem.delivered, disk.delivered},
		{"written", a.acked, mem.inserted, disk.inserted},
	} {
		agent := perLakh(a.agentCPU, per.agent)
		if agent > 0 {
			sec.add(Row{Measure: "Lifeline agent CPU per 100,000 samples/s " + per.what, Value: agent, Unit: "cores"})
		}
		for _, t := range []struct {
			name      string
			cpu, rate float64
		}{{"memory", mem.cpu, per.memory}, {"disk", disk.cpu, per.disk}} {
			v := perLakh(t.cpu, t.rate)
			if v == 0 { // nothing delivered: no such figure
				continue
			}
			row := Row{Measure: "Telegraf CPU per 100,000 samples/s " + per.what + ", " + t.name + " buffer", Value: v, Unit: "cores"}
			if agent > 0 {
				row.Versus, row.Ratio = fmt.Sprintf("agent %s cores", human(agent)), v/agent
			}
			sec.add(row)
		}
	}
}

// ratio is v over of, 0 when there is nothing to compare with.
func ratio(v, of float64) float64 {
	if of == 0 {
		return 0
	}
	return v / of
}

// perLakh is cores per 100,000 samples/s delivered.
func perLakh(cores, delivered float64) float64 {
	return ratio(cores, delivered) * 100_000
}

// peerSettleLimit bounds the wait for a collector's window to be
// queryable: one that falls behind would never get there.
func peerSettleLimit(short bool) time.Duration {
	if short {
		return 10 * time.Second
	}
	return 30 * time.Second
}

// telegrafVersion is the version in the binary's name (telegraf-v1.39.3).
func telegrafVersion(bin string) string {
	if v, ok := strings.CutPrefix(filepath.Base(bin), "telegraf-"); ok {
		return v
	}
	return filepath.Base(bin)
}

// telegrafLoad runs plantsim and Telegraf with the given buffer strategy
// into database db, and measures a window of its delivery.
func (r *Runner) telegrafLoad(ctx context.Context, db, strategy string, window time.Duration) (peerLoad, error) {
	m := peerLoad{offered: peerPoints * peerRate, simLost: -1}
	if err := r.ch.freshDatabase(ctx, db); err != nil {
		return m, err
	}
	conn, err := r.ch.open(db)
	if err != nil {
		return m, err
	}
	defer conn.Close()
	if err := conn.Exec(ctx, telegrafTableSQL(db, peerMetric)); err != nil {
		return m, fmt.Errorf("create telegraf's table: %w", err)
	}
	addrs, err := launch.FreeAddrs(1)
	if err != nil {
		return m, err
	}
	sim, err := r.startSim(addrs[0], peerPoints, peerRate)
	if err != nil {
		return m, err
	}
	defer sim.Stop(10 * time.Second)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = sim.WaitListening(wctx, addrs[0])
	cancel()
	if err != nil {
		return m, err
	}
	cfg, err := r.writeTelegrafConfig(ctx, addrs[0], db, strategy)
	if err != nil {
		return m, err
	}
	log := filepath.Join(r.dir, fmt.Sprintf("telegraf-%s.log", strategy))
	tg, err := launch.Start(r.opts.Telegraf, log, "--config", cfg)
	if err != nil {
		return m, err
	}
	defer tg.Stop(20 * time.Second)
	if err := waitRows(ctx, conn, tg, 2*time.Minute); err != nil {
		return m, err
	}
	time.Sleep(r.window(5 * time.Second))
	return m, r.measureTelegraf(ctx, conn, tg, sim, window, &m)
}

// writeTelegrafConfig writes the configuration reading every load point
// of the plantsim on simAddr into database db.
func (r *Runner) writeTelegrafConfig(ctx context.Context, simAddr, db, strategy string) (string, error) {
	out, err := exec.CommandContext(ctx, filepath.Join(r.opts.BinDir, "lifeline-plantsim"), "config",
		"--endpoint", "opc.tcp://"+simAddr, "--aggregator", "127.0.0.1:1",
		"--buffer", filepath.Join(r.dir, "unused"), "--site", "PLANT01", "--points", fmt.Sprint(peerPoints)).Output()
	if err != nil {
		return "", fmt.Errorf("plantsim config: %w", err)
	}
	ac, err := agentconfig.Parse(out)
	if err != nil {
		return "", fmt.Errorf("plantsim config: %w", err)
	}
	var nodes []string
	for _, p := range ac.Sources[0].Points {
		if strings.HasPrefix(p.ID, plantsim.LoadIDPrefix) {
			nodes = append(nodes, p.Node)
		}
	}
	if len(nodes) != peerPoints {
		return "", fmt.Errorf("plantsim config lists %d load points, want %d", len(nodes), peerPoints)
	}
	bufDir := filepath.Join(r.dir, "telegraf-buffer-"+strategy)
	if err := os.MkdirAll(bufDir, 0o755); err != nil {
		return "", err
	}
	text := telegrafConfig(telegrafSetup{
		Endpoint: "opc.tcp://" + simAddr, Nodes: nodes, PerInput: maxItemsPerSubscription,
		Publishing: publishingInterval, Sampling: peerSampling, QueueSize: peerQueueSize,
		Metric: peerMetric, DSN: fmt.Sprintf("clickhouse://%s/%s?dial_timeout=10s&compress=lz4", r.ch.addr, db),
		Strategy: strategy, BufferDir: bufDir, BatchSize: peerBatch, BufferLimit: peerBufferLimit, Flush: peerFlush,
	})
	path := filepath.Join(r.dir, "telegraf-"+strategy+".conf")
	return path, os.WriteFile(path, []byte(text), 0o644)
}

// waitRows waits for Telegraf's first rows in ClickHouse.
func waitRows(ctx context.Context, conn driver.Conn, tg *launch.Process, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+peerMetric).Scan(&n); err != nil {
			return fmt.Errorf("telegraf's rows: %w", err)
		}
		if n > 0 {
			return nil
		}
		if tg.Exited() {
			return fmt.Errorf("telegraf exited before its first rows:\n%s", tg.Tail(3000))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no rows from telegraf after %s:\n%s", limit, tg.Tail(3000))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// measureTelegraf measures one window of a running Telegraf into m.
func (r *Runner) measureTelegraf(ctx context.Context, conn driver.Conn, tg, sim *launch.Process, window time.Duration, m *peerLoad) error {
	count := func() (n uint64, err error) {
		err = conn.QueryRow(ctx, "SELECT count() FROM "+peerMetric).Scan(&n)
		return n, err
	}
	rows0, err := count()
	if err != nil {
		return err
	}
	log0 := parseTelegrafLog(readLog(tg.Log))
	simBefore, simKnown := simLosses(sim.Log)
	tgUse, simUse := meterUsage(tg.Pid()), meterUsage(sim.Pid())
	start := time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(window):
	}
	elapsed := time.Since(start).Seconds()
	tu, su := tgUse.stop(), simUse.stop()
	simAfter, simKnownAfter := simLosses(sim.Log)
	rows1, err := count()
	if err != nil {
		return err
	}
	var newest int64
	if err := conn.QueryRow(ctx, "SELECT max(ts_ns) FROM "+peerMetric).Scan(&newest); err != nil {
		return err
	}
	m.lagAtEnd = time.Since(time.Unix(0, newest))
	m.log = parseTelegrafLog(readLog(tg.Log))
	m.dropped = float64(m.log.Dropped-log0.Dropped) / elapsed
	m.inserted = float64(rows1-rows0) / elapsed
	m.cpu, m.simCPU, m.rss = tu.CPUCores, su.CPUCores, float64(tu.RSSMax)/1e6
	if simKnown && simKnownAfter {
		m.simLost = float64(simAfter-simBefore) / elapsed
	}
	if tg.Exited() {
		return fmt.Errorf("telegraf exited during the window:\n%s", tg.Tail(3000))
	}
	from := start.Truncate(10 * time.Millisecond).Add(10 * time.Millisecond)
	m.delivered, err = telegrafDelivered(ctx, conn, from, from.Add(window), peerSettleLimit(r.opts.Short))
	var oldest, newestNow int64
	var rows uint64
	if qerr := conn.QueryRow(ctx, "SELECT min(ts_ns), max(ts_ns), count() FROM "+peerMetric).Scan(&oldest, &newestNow, &rows); qerr == nil {
		r.opts.Logf("telegraf: %d rows, source times %s … %s; window %s … %s", rows,
			time.Unix(0, oldest).UTC().Format(time.StampMilli), time.Unix(0, newestNow).UTC().Format(time.StampMilli),
			from.UTC().Format(time.StampMilli), from.Add(window).UTC().Format(time.StampMilli))
	}
	return err
}

// telegrafDelivered waits until the rows of [from, to) are in, or limit
// passes, and returns their count per second.
func telegrafDelivered(ctx context.Context, conn driver.Conn, from, to time.Time, limit time.Duration) (float64, error) {
	const settle = 3 * time.Second
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		var newest int64
		if err := conn.QueryRow(ctx, "SELECT max(ts_ns) FROM "+peerMetric).Scan(&newest); err != nil {
			return 0, fmt.Errorf("delivered: %w", err)
		}
		if newest >= to.Add(settle).UnixNano() {
			break
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	var n uint64
	// Distinct (point, time): a batch sent twice must not count twice.
	err := conn.QueryRow(ctx, "SELECT uniqExact(id, ts_ns) FROM "+peerMetric+" WHERE ts_ns >= ? AND ts_ns < ?",
		from.UnixNano(), to.UnixNano()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("delivered: %w", err)
	}
	return float64(n) / to.Sub(from).Seconds(), nil
}

// loadAverage is the first field of /proc/loadavg, "?" when unreadable.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// readLog returns a process's log so far, empty when unreadable.
func readLog(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(data)
}
