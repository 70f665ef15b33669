package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
	"github.com/lifeline-telemetry/lifeline/packaging/launch"
)

// failoverRig is two aggregator processes on one ClickHouse (a server or
// a cluster) and three agent processes, each configured with both
// addresses, reading an in-process plant simulator with a scripted gas
// detector.
type failoverRig struct {
	t      *testing.T
	dir    string
	sim    *plantsim.Sim
	conn   clickhouse.Conn
	aggs   [2]*launch.Process
	aggCfg [2]string
	addrs  [2]string
	sites  [3]string
	agents [3]*launch.Process
	// agentMetrics are the agents' metrics addresses.
	agentMetrics [3]string
	// preferred is the aggregator each agent's site prefers; the victim is
	// the one faults are done to, other the one that stays up.
	preferred     [3]int
	victim, other int
}

const gasPoint = "GAS.AT101"

// anyAggregator, as waitOn's want, accepts either aggregator.
const anyAggregator = -2

// fleetStore is where a fleet's aggregators write and the test reads.
type fleetStore struct {
	// read and database are the server and database the test reads.
	read, database string
	// clickhouse is the clickhouse section of aggregator i's file, a YAML
	// flow mapping.
	clickhouse func(i int) string
	// oneByOne, when set, starts the aggregators one at a time, each
	// given that long to listen (the first migrates a cluster); otherwise
	// they start together and get 30 s.
	oneByOne time.Duration
	// sitePrefix starts the agents' site IDs.
	sitePrefix string
}

// newFleet starts the plant, the two aggregators on st and the three
// agents; all stop when the test ends.
func newFleet(t *testing.T, ctx context.Context, st fleetStore) *failoverRig {
	t.Helper()
	binaries(t)
	r := &failoverRig{t: t, dir: t.TempDir()}
	r.sim = startGasPlant(t, ctx)

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{st.read}, Auth: clickhouse.Auth{Database: st.database}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r.conn = conn

	free, err := launch.FreeAddrs(7)
	if err != nil {
		t.Fatal(err)
	}
	r.addrs = [2]string{free[0], free[1]}
	for i := range r.aggs {
		r.aggCfg[i] = filepath.Join(r.dir, fmt.Sprintf("aggregator-%d.yaml", i))
		writeFile(t, r.aggCfg[i], fmt.Sprintf(`node_id: agg-%d
server:
  listen: %s
  tls: {insecure: true}
clickhouse: %s
metrics: {listen: %s}
`, i, r.addrs[i], st.clickhouse(i), free[2+i]))
		r.aggs[i] = startProc(t, r.dir, "lifeline-aggregator", "run", "--config", r.aggCfg[i])
		if st.oneByOne > 0 {
			r.waitAggregator(ctx, i, st.oneByOne)
		}
	}
	if st.oneByOne == 0 {
		for i := range r.aggs {
			r.waitAggregator(ctx, i, 30*time.Second)
		}
	}
	stamp := time.Now().UnixNano() % 1e6
	for i := range r.agents {
		r.sites[i] = fmt.Sprintf("%s%d%05d", st.sitePrefix, i, stamp)
		r.agentMetrics[i] = free[4+i]
		r.agents[i] = startProc(t, r.dir, "lifeline-agent", "run", "--config", r.writeAgentConfig(i))
	}
	return r
}

// startGasPlant starts a plant of 20 load points and the scripted gas
// detector at 5 %LEL, with no excursions of its own.
func startGasPlant(t *testing.T, ctx context.Context) *plantsim.Sim {
	t.Helper()
	opts := plantsim.DefaultOptions()
	opts.Addr = "127.0.0.1:0"
	opts.Points, opts.Rate = 20, 2
	opts.ExcursionsPerHour = -1
	opts.Logger = testLogger(t)
	opts.Scripted = []plantsim.PointSpec{{ID: gasPoint, Identifier: "Scripted.GAS.AT101", Name: "可燃气体探测器", Kind: "gas_combustible",
		Unit: "%LEL", Limits: &config.Limits{Stage1: ptr(25), Stage2: ptr(50), Deadband: 1, OnDelay: dur(0), OffDelay: dur(0)}}}
	sim := plantsim.New(opts)
	if err := sim.Set(gasPoint, 5.0, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Shutdown(context.Background()) })
	return sim
}

func (r *failoverRig) startAggregator(ctx context.Context, i int) {
	r.aggs[i] = startProc(r.t, r.dir, "lifeline-aggregator", "run", "--config", r.aggCfg[i])
	r.waitAggregator(ctx, i, 30*time.Second)
}

func (r *failoverRig) waitAggregator(ctx context.Context, i int, limit time.Duration) {
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if err := r.aggs[i].WaitListening(wctx, r.addrs[i]); err != nil {
		r.t.Fatalf("aggregator %d: %v\n%s", i, err, r.aggs[i].Tail(3000))
	}
}

func (r *failoverRig) writeAgentConfig(i int) string {
	cfg := r.sim.AgentConfig(r.addrs[0], filepath.Join(r.dir, fmt.Sprintf("buffer-%d", i)), r.sites[i])
	cfg.Aggregator.Addresses = r.addrs[:]
	cfg.Metrics.Listen = r.agentMetrics[i]
	cfg.StatusPage.Listen = ""
	// Fast detection keeps the scenario short.
	cfg.Aggregator.Keepalive = config.Duration(2 * time.Second)
	cfg.Aggregator.KeepaliveTimeout = config.Duration(2 * time.Second)
	cfg.Aggregator.ReconnectMin = config.Duration(200 * time.Millisecond)
	cfg.Aggregator.ReconnectMax = config.Duration(2 * time.Second)
	cfg.Aggregator.StatusInterval = config.Duration(time.Second)
	cfg.Aggregator.AckTimeout = config.Duration(3 * time.Second)
	cfg.Aggregator.PreferredProbe = config.Duration(time.Second)
	cfg.Aggregator.PreferredProbes = 3
	if err := cfg.Validate(); err != nil {
		r.t.Fatal(err)
	}
	data, err := cfg.Marshal()
	if err != nil {
		r.t.Fatal(err)
	}
	path := filepath.Join(r.dir, fmt.Sprintf("agent-%d.yaml", i))
	writeFile(r.t, path, string(data))
	return path
}
