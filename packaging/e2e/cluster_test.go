package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	agentconfig "github.com/lifeline-telemetry/lifeline/agent/config"
	agentservice "github.com/lifeline-telemetry/lifeline/agent/service"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/packaging/launch"
)

// binDir holds the binaries the fault tests run; TestMain removes it.
var (
	binDir   string
	binOnce  sync.Once
	binError error
)

// binaries builds lifeline-agent, -aggregator and -plantsim once per run.
func binaries(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lifeline-e2e-bin-")
		if err != nil {
			binError = err
			return
		}
		binDir = dir
		root, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			binError = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		cmd := exec.Command("go", "build", "-o", dir, "./agent/cmd/lifeline-agent", "./aggregator/cmd/lifeline-aggregator", "./agent/cmd/lifeline-plantsim")
		cmd.Dir = filepath.Dir(strings.TrimSpace(string(root)))
		if out, err := cmd.CombinedOutput(); err != nil {
			binError = fmt.Errorf("build binaries: %v\n%s", err, out)
		}
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binDir
}

// startProc runs the binary name with args, its log in dir, killed (if
// still running) when the test ends.
func startProc(t *testing.T, dir, name string, args ...string) *launch.Process {
	t.Helper()
	log := filepath.Join(dir, fmt.Sprintf("%s-%d.log", name, time.Now().UnixNano()))
	p, err := launch.Start(filepath.Join(binaries(t), name), log, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

// clusterOptions shape one fault scenario.
type clusterOptions struct {
	points      int     // plantsim load points
	rate        float64 // Hz per load point
	ownServer   bool    // a ClickHouse of the test's own, to stop and start
	bufferBytes int64   // agent buffer bound; 0 keeps the default
	// agent, if set, adjusts the agent's configuration.
	agent func(*agentconfig.Config)
}

// cluster is plantsim → agent → proxy → aggregator → ClickHouse, every
// part a real process except the proxy, on loopback.
type cluster struct {
	t    *testing.T
	dir  string
	opts clusterOptions

	ch     *chtest.Server
	chAddr string
	db     string

	simAddr, aggAddr, agentMetrics, aggMetrics string
	aggConfig, agentConfig                     string

	sim, agg, agent *launch.Process
	proxy           *proxy
	site            string
}

func newCluster(t *testing.T, opts clusterOptions) *cluster {
	t.Helper()
	binaries(t)
	c := &cluster{t: t, dir: t.TempDir(), opts: opts, site: "F" + strconv.FormatInt(time.Now().UnixNano()%1e6, 36)}
	if opts.ownServer {
		srv, err := chtest.StartServer(filepath.Join(c.dir, "clickhouse"))
		if err != nil {
			if os.Getenv("CI") == "" {
				t.Skipf("clickhouse-server: %v", err)
			}
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Kill() })
		c.ch, c.chAddr, c.db = srv, srv.Addr(), "lifeline"
	} else {
		c.chAddr = chtest.Addr(t)
		c.db = chtest.Database(t, c.chAddr)
	}
	addrs, err := launch.FreeAddrs(4)
	if err != nil {
		t.Fatal(err)
	}
	c.simAddr, c.aggAddr, c.agentMetrics, c.aggMetrics = addrs[0], addrs[1], addrs[2], addrs[3]

	c.aggConfig = filepath.Join(c.dir, "aggregator.yaml")
	writeFile(t, c.aggConfig, fmt.Sprintf(`server:
  listen: %s
  tls: {insecure: true}
clickhouse: {addr: %s, database: %s}
metrics: {listen: %s}
`, c.aggAddr, c.chAddr, c.db, c.aggMetrics))

	c.sim = startProc(t, c.dir, "lifeline-plantsim", "run", "--listen", c.simAddr,
		"--points", strconv.Itoa(opts.points), "--rate", strconv.FormatFloat(opts.rate, 'f', -1, 64), "--excursions-per-hour", "-1")
	c.proxy = startProxy(t, c.aggAddr)
	c.agentConfig = c.writeAgentConfig()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.sim.WaitListening(ctx, c.simAddr); err != nil {
		t.Fatal(err)
	}
	c.startAggregator()
	c.startAgent()
	return c
}

func (c *cluster) writeAgentConfig() string {
	out, err := exec.Command(filepath.Join(binaries(c.t), "lifeline-plantsim"), "config",
		"--endpoint", "opc.tcp://"+c.simAddr, "--aggregator", c.proxy.addr(),
		"--buffer", filepath.Join(c.dir, "buffer"), "--site", c.site, "--points", strconv.Itoa(c.opts.points)).Output()
	if err != nil {
		c.t.Fatalf("plantsim config: %v", err)
	}
	cfg, err := agentconfig.Parse(out)
	if err != nil {
		c.t.Fatal(err)
	}
	cfg.Metrics.Listen = c.agentMetrics
	cfg.StatusPage.Listen = "" // several agents share this host
	// Fast failure detection keeps the scenarios short.
	cfg.Aggregator.Keepalive = agentconfig.Duration(5 * time.Second)
	cfg.Aggregator.KeepaliveTimeout = agentconfig.Duration(3 * time.Second)
	cfg.Aggregator.ReconnectMin = agentconfig.Duration(200 * time.Millisecond)
	cfg.Aggregator.ReconnectMax = agentconfig.Duration(2 * time.Second)
	cfg.Aggregator.StatusInterval = agentconfig.Duration(2 * time.Second)
	if c.opts.bufferBytes > 0 {
		cfg.Buffer.MaxBytes = c.opts.bufferBytes
	}
	if c.opts.agent != nil {
		c.opts.agent(&cfg)
	}
	data, err := cfg.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	path := filepath.Join(c.dir, "agent.yaml")
	writeFile(c.t, path, string(data))
	return path
}

func (c *cluster) startAggregator() {
	c.agg = startProc(c.t, c.dir, "lifeline-aggregator", "run", "--config", c.aggConfig)
}

func (c *cluster) startAgent() {
	c.agent = startProc(c.t, c.dir, "lifeline-agent", "run", "--config", c.agentConfig)
}

// metrics scrapes the agent; an empty map when it is not answering.
func (c *cluster) metrics() map[string]float64 {
	m, err := launch.Scrape(c.agentMetrics)
	if err != nil {
		return map[string]float64{}
	}
	return m
}

// waitMetric polls the agent until cond holds.
func (c *cluster) waitMetric(what string, limit time.Duration, cond func(map[string]float64) bool) map[string]float64 {
	c.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		m := c.metrics()
		if len(m) > 0 && cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s; last metrics: read=%v acked=%v batches=%v connected=%v\nagent log:\n%s\naggregator log:\n%s",
				what, m[agentservice.MetricSamplesReadTotal], m[agentservice.MetricSamplesAckedTotal],
				m[agentservice.MetricBufferBatches], m[agentservice.MetricUplinkConnected], c.agent.Tail(4000), c.agg.Tail(4000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// flowing waits until the agent has acked at least n samples.
func (c *cluster) flowing(n float64) {
	c.waitMetric(fmt.Sprintf("%v samples acked", n), 60*time.Second, func(m map[string]float64) bool {
		return m[agentservice.MetricSamplesAckedTotal] >= n
	})
}

// finish stops the plant and waits until the agent has delivered all it
// read, returning the agent's final metrics.
func (c *cluster) finish() map[string]float64 {
	c.sim.Stop(10 * time.Second)
	var last float64 = -1
	return c.waitMetric("agent to drain", 120*time.Second, func(m map[string]float64) bool {
		read := m[agentservice.MetricSamplesReadTotal]
		settled := read == last
		last = read
		return settled && m[agentservice.MetricBufferBatches] == 0 && m[agentservice.MetricUplinkInFlightBatches] == 0 &&
			m[agentservice.MetricSamplesBufferedTotal] == read
	})
}

func (c *cluster) conn() clickhouse.Conn {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{c.chAddr}, Auth: clickhouse.Auth{Database: c.db}})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { conn.Close() })
	return conn
}

// counts reports rows, distinct (point, source time) pairs, and the
// ledger's distinct batches and the count they should be for the site: a
// buffer numbers seq = epoch<<40 | counter with counters 1, 2, … in each
// epoch (one per open of the buffer), so maxSeq sums each epoch's highest
// counter.
type counts struct {
	rows, distinct, batches, maxSeq, gapSamples uint64
}

func (c *cluster) counts() counts {
	conn := c.conn()
	ctx := context.Background()
	var k counts
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(point_id, ts_ns) FROM samples WHERE site_id = ?", c.site).Scan(&k.rows, &k.distinct); err != nil {
		c.t.Fatal(err)
	}
	const perEpoch = "SELECT uniqExact(seq) AS n, max(bitAnd(seq, 1099511627775)) AS top FROM ingest_batches WHERE site_id = ? " +
		"GROUP BY buffer_id, bitShiftRight(seq, 40)"
	if err := conn.QueryRow(ctx, "SELECT toUInt64(sum(n)), toUInt64(sum(top)) FROM ("+perEpoch+")", c.site).Scan(&k.batches, &k.maxSeq); err != nil {
		c.t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT sum(samples) FROM gaps FINAL WHERE site_id = ?", c.site).Scan(&k.gapSamples); err != nil {
		c.t.Fatal(err)
	}
	return k
}

// assertExactlyOnce checks what every scenario promises: no duplicate
// rows, no batch missing from the ledger, and — when the agent lived
// through the scenario — exactly as many rows as samples it read.
func (c *cluster) assertExactlyOnce(final map[string]float64, agentLived bool) counts {
	c.t.Helper()
	k := c.counts()
	read := uint64(final[agentservice.MetricSamplesReadTotal])
	c.t.Logf("%s: agent read %d (this run; %v re-sent values recognised), ClickHouse rows %d distinct %d, batches %d of %d, gap samples %d",
		c.t.Name(), read, final[agentservice.MetricSamplesDuplicateTotal], k.rows, k.distinct, k.batches, k.maxSeq, k.gapSamples)
	if k.rows == 0 {
		c.t.Fatal("no rows reached ClickHouse")
	}
	if k.rows != k.distinct {
		c.t.Errorf("%d duplicate rows", k.rows-k.distinct)
	}
	// Batches dropped for a full buffer are missing from the ledger by
	// design; their samples are counted in gaps instead.
	if k.gapSamples == 0 && k.batches != k.maxSeq {
		c.t.Errorf("ledger holds %d distinct batches of %d numbered: batches lost", k.batches, k.maxSeq)
	}
	dup := uint64(final[agentservice.MetricSamplesDuplicateTotal])
	if agentLived && k.rows+k.gapSamples+dup != read {
		c.t.Errorf("rows %d + dropped %d + re-sent duplicates %d != %d samples the agent read", k.rows, k.gapSamples, dup, read)
	}
	return k
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
