// Command demo brings up a whole Lifeline on one machine: ClickHouse, the
// plant simulator, an aggregator and an agent, and shows data flowing.
//
// It is what `make demo` runs. DEMO_SECONDS=N stops it after N seconds;
// Ctrl-C stops it at any time. Every process it starts is stopped on exit.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	agentconfig "github.com/lifeline-telemetry/lifeline/agent/config"
	agentservice "github.com/lifeline-telemetry/lifeline/agent/service"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/packaging/launch"
)

const (
	site     = "DEMO01"
	database = "lifeline"
	// Load points beside the modelled plant, so the flow is plain to see.
	loadPoints = "1000"
	loadRate   = "2"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "demo: failed: %v\n", err)
		os.Exit(1)
	}
}

// demo is one run's places and processes.
type demo struct {
	root, logs                                 string
	chAddr, db                                 string
	simAddr, aggAddr, aggMetrics, agentMetrics string
	aggCfg                                     string
	// procs in start order (with the flow), stopped in reverse.
	procs []*launch.Process
}

func run() error {
	root, err := filepath.Abs("var/demo")
	if err != nil {
		return err
	}
	d := &demo{root: root, logs: filepath.Join(root, "logs")}
	if err := os.MkdirAll(d.logs, 0o755); err != nil {
		return err
	}
	// The agent's buffer and the demo database start empty each run, so the
	// counts shown are this run's.
	_ = os.RemoveAll(filepath.Join(root, "agent-buffer"))

	ctx, cancel := demoContext()
	defer cancel()
	stopClickHouse, err := d.clickhouse()
	if err != nil {
		return err
	}
	defer stopClickHouse()

	addrs, err := launch.FreeAddrs(4)
	if err != nil {
		return err
	}
	d.simAddr, d.aggAddr, d.aggMetrics, d.agentMetrics = addrs[0], addrs[1], addrs[2], addrs[3]
	defer d.stopAll()
	if err := d.startProcesses(ctx); err != nil {
		return err
	}
	fmt.Println("demo: plantsim, aggregator and agent started; logs in var/demo/logs (Ctrl-C stops)")
	fmt.Printf("demo: the agent's status page: http://%s/\n", agentconfig.Default().StatusPage.Listen)

	// Grafana: the park's dashboards (live with GRAFANA_URL and GRAFANA_TOKEN, else files).
	grafana(root, d.aggCfg)

	if err := d.watch(ctx); err != nil {
		return err
	}
	d.stopAll()
	rows, err := countRows(d.chAddr, d.db)
	if err != nil {
		return fmt.Errorf("count rows: %w", err)
	}
	if rows == 0 {
		return errors.New("no rows reached ClickHouse (see var/demo/logs)")
	}
	fmt.Printf("demo: ok, %d rows in ClickHouse %s database %s\n", rows, d.chAddr, d.db)
	return nil
}

// demoContext ends on Ctrl-C or SIGTERM, or after DEMO_SECONDS if set.
func demoContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	s, _ := strconv.Atoi(os.Getenv("DEMO_SECONDS"))
	if s <= 0 {
		return ctx, stop
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(s)*time.Second)
	return ctx, func() {
		cancel()
		stop()
	}
}

// clickhouse uses the server named by the environment or starts one of its
// own, and empties the demo database. The returned stop stops a server it
// started.
func (d *demo) clickhouse() (stop func(), err error) {
	stop = func() {}
	d.chAddr = os.Getenv(chtest.AddrEnv)
	if d.chAddr == "" {
		fmt.Println("demo: starting clickhouse-server in var/demo/clickhouse …")
		srv, err := chtest.StartServer(filepath.Join(d.root, "clickhouse"))
		if err != nil {
			return nil, fmt.Errorf("start ClickHouse: %w", err)
		}
		stop = func() { _ = srv.Stop() }
		d.chAddr = srv.Addr()
	}
	d.db = database
	if v := os.Getenv("LIFELINE_CLICKHOUSE_DATABASE"); v != "" {
		d.db = v
	}
	if err := clickhouseQuery(d.chAddr, "DROP DATABASE IF EXISTS "+d.db); err != nil {
		stop()
		return nil, fmt.Errorf("reset demo database: %w", err)
	}
	fmt.Printf("demo: ClickHouse at %s, database %s\n", d.chAddr, d.db)
	return stop, nil
}

// startProcesses starts the simulator, the aggregator and, once the
// simulator listens, the agent. What it started is in d.procs even when it
// fails, so the caller's stopAll stops it.
func (d *demo) startProcesses(ctx context.Context) error {
	sim, err := start(d.logs, "lifeline-plantsim", "run", "--listen", d.simAddr, "--points", loadPoints, "--rate", loadRate,
		"--excursions-per-hour", "900") // alarms within a short demo
	if err != nil {
		return err
	}
	d.procs = append(d.procs, sim)

	tlsDir, err := makeCerts(d.root)
	if err != nil {
		return err
	}
	d.aggCfg, err = aggregatorConfig(d.root, d.aggAddr, d.chAddr, d.db, d.aggMetrics, tlsDir)
	if err != nil {
		return err
	}
	agg, err := start(d.logs, "lifeline-aggregator", "run", "--config", d.aggCfg)
	if err != nil {
		return err
	}
	d.procs = append(d.procs, agg)

	agentCfg, err := agentConfig(d.root, d.simAddr, d.aggAddr, d.agentMetrics, tlsDir)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := sim.WaitListening(wctx, d.simAddr); err != nil {
		return fmt.Errorf("plant simulator: %w (see var/demo/logs/lifeline-plantsim.log)", err)
	}
	agent, err := start(d.logs, "lifeline-agent", "run", "--config", agentCfg)
	if err != nil {
		return err
	}
	d.procs = append(d.procs, agent)
	return nil
}

// aggregatorConfig writes the aggregator's config with mutual TLS, the
// certificates made by 'lifeline-aggregator certs'.
func aggregatorConfig(root, listen, chAddr, db, metricsAddr, tlsDir string) (string, error) {
	path := filepath.Join(root, "aggregator.yaml")
	return path, os.WriteFile(path, []byte(fmt.Sprintf(`server:
  listen: %[1]s
  tls:               # mutual TLS, certificates made by 'lifeline-aggregator certs'
    cert_file: %[5]s/aggregator.crt
    key_file: %[5]s/aggregator.key
    client_ca_file: %[5]s/ca/ca.crt
clickhouse:
  addr: %[2]s
  database: %[3]s
metrics:
  listen: %[4]s
`, listen, chAddr, db, metricsAddr, tlsDir)), 0o644)
}

// watch prints the flow every few seconds until ctx ends, and fails as soon
// as a process exits on its own: a demo that silently lost a part would
// show numbers that mean nothing.
func (d *demo) watch(ctx context.Context) error {
	tick := time.NewTicker(3 * time.Second)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
		}
		for _, p := range d.procs {
			if p.Exited() {
				return fmt.Errorf("%s exited early (see var/demo/logs/%s.log)", p.Name, p.Name)
			}
		}
		m, _ := launch.Scrape(d.agentMetrics) // nil while the agent starts: zeros
		rows, _ := countRows(d.chAddr, d.db)
		fmt.Printf("demo: read %d  buffered %d  acked %d  rows in ClickHouse %d  %s\n",
			uint64(m[agentservice.MetricSamplesReadTotal]), uint64(m[agentservice.MetricSamplesBufferedTotal]),
			uint64(m[agentservice.MetricSamplesAckedTotal]), rows, safetyLine(d.chAddr, d.db))
	}
	return nil
}

// stopAll stops against the flow: agent first, so it flushes to its
// buffer. Stopping a stopped process does nothing.
func (d *demo) stopAll() {
	for i := len(d.procs) - 1; i >= 0; i-- {
		d.procs[i].Stop(10 * time.Second)
	}
}

// agentConfig writes the agent's config the way a plant rehearsing an
// installation would: printed by the simulator, then adjusted.
func agentConfig(root, simAddr, aggAddr, metricsAddr, tlsDir string) (string, error) {
	out, err := exec.Command(binary("lifeline-plantsim"), "config",
		"--endpoint", "opc.tcp://"+simAddr, "--aggregator", aggAddr,
		"--buffer", filepath.Join(root, "agent-buffer"), "--site", site, "--points", loadPoints).Output()
	if err != nil {
		return "", fmt.Errorf("lifeline-plantsim config: %w", err)
	}
	cfg, err := agentconfig.Parse(out)
	if err != nil {
		return "", fmt.Errorf("plantsim's agent config: %w", err)
	}
	cfg.Metrics.Listen = metricsAddr
	cfg.Aggregator.TLS = agentconfig.TLS{
		CAFile:     filepath.Join(tlsDir, "ca", "ca.crt"),
		CertFile:   filepath.Join(tlsDir, site+".crt"),
		KeyFile:    filepath.Join(tlsDir, site+".key"),
		ServerName: "127.0.0.1",
	}
	data, err := cfg.Marshal()
	if err != nil {
		return "", err
	}
	path := filepath.Join(root, "agent.yaml")
	return path, os.WriteFile(path, data, 0o644)
}

// makeCerts makes the link's CA, the aggregator's certificate and the demo
// site's agent certificate the way an operator would, once per checkout.
func makeCerts(root string) (string, error) {
	dir := filepath.Join(root, "tls")
	if _, err := os.Stat(filepath.Join(dir, site+".crt")); err == nil {
		return dir, nil
	}
	_ = os.RemoveAll(dir)
	ca := filepath.Join(dir, "ca")
	for _, args := range [][]string{
		{"certs", "init", "--dir", ca, "--name", "Lifeline demo CA"},
		{"certs", "server", "--dir", ca, "--out", dir, "--host", "127.0.0.1", "--host", "localhost"},
		{"certs", "agent", "--dir", ca, "--out", dir, "--site", site},
	} {
		if out, err := exec.Command(binary("lifeline-aggregator"), args...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("lifeline-aggregator %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return dir, nil
}

func binary(name string) string { return filepath.Join("bin", name) }

func start(logs, name string, args ...string) (*launch.Process, error) {
	return launch.Start(binary(name), filepath.Join(logs, name+".log"), args...)
}

// countRows counts with clickhouse-client, the tool an analyst would use.
func countRows(addr, db string) (uint64, error) {
	out, err := clickhouseOutput(addr, "SELECT count() FROM "+db+".samples")
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(out), 10, 64)
}

func clickhouseQuery(addr, query string) error {
	_, err := clickhouseOutput(addr, query)
	return err
}

func clickhouseOutput(addr, query string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	out, err := exec.Command("clickhouse-client", "--host", host, "--port", port, "--query", query).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("clickhouse-client: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// safetyLine reports the alarms raised and cleared so far and the online
// rate over the last minute (in-service points with a good sample in it,
// over all in-service points; docs/schema.md defines the hourly figure).
func safetyLine(addr, db string) string {
	out, err := clickhouseOutput(addr, `SELECT count(), countIf(state = 'cleared'), countIf(state = 'active')
FROM `+db+`.alarm_events FINAL`)
	alarms := "alarms ?"
	if f := strings.Fields(out); err == nil && len(f) == 3 {
		alarms = fmt.Sprintf("alarms raised %s cleared %s active %s", f[0], f[1], f[2])
	}
	out, err = clickhouseOutput(addr, `SELECT round(100 *
    (SELECT uniqExact(site_id, point_id) FROM `+db+`.samples
     WHERE ts >= now() - 60 AND good = 1
       AND (site_id, point_id) IN (SELECT site_id, point_id FROM `+db+`.points FINAL WHERE out_of_service = 0))
    / (SELECT count() FROM `+db+`.points FINAL WHERE out_of_service = 0), 2)`)
	online := "online ?"
	if v := strings.TrimSpace(out); err == nil && v != "" && v != "nan" {
		online = "online " + v + " %"
	}
	return alarms + "  " + online
}
