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

func run() error {
	root, err := filepath.Abs("var/demo")
	if err != nil {
		return err
	}
	logs := filepath.Join(root, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}
	// The agent's buffer and the demo database start empty each run, so the
	// counts shown are this run's.
	_ = os.RemoveAll(filepath.Join(root, "agent-buffer"))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if s, _ := strconv.Atoi(os.Getenv("DEMO_SECONDS")); s > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(s)*time.Second)
		defer cancel()
	}

	chAddr := os.Getenv(chtest.AddrEnv)
	if chAddr == "" {
		fmt.Println("demo: starting clickhouse-server in var/demo/clickhouse …")
		srv, err := chtest.StartServer(filepath.Join(root, "clickhouse"))
		if err != nil {
			return fmt.Errorf("start ClickHouse: %w", err)
		}
		defer srv.Stop()
		chAddr = srv.Addr()
	}
	db := database
	if v := os.Getenv("LIFELINE_CLICKHOUSE_DATABASE"); v != "" {
		db = v
	}
	if err := clickhouseQuery(chAddr, "DROP DATABASE IF EXISTS "+db); err != nil {
		return fmt.Errorf("reset demo database: %w", err)
	}
	fmt.Printf("demo: ClickHouse at %s, database %s\n", chAddr, db)

	addrs, err := launch.FreeAddrs(4)
	if err != nil {
		return err
	}
	simAddr, aggAddr, aggMetrics, agentMetrics := addrs[0], addrs[1], addrs[2], addrs[3]

	var procs []*launch.Process
	defer func() {
		// Stop against the flow: agent first, so it flushes to its buffer.
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].Stop(10 * time.Second)
		}
	}()

	sim, err := start(logs, "lifeline-plantsim", "run", "--listen", simAddr, "--points", loadPoints, "--rate", loadRate,
		"--excursions-per-hour", "900") // alarms within a short demo
	if err != nil {
		return err
	}
	procs = append(procs, sim)

	tlsDir, err := makeCerts(root)
	if err != nil {
		return err
	}
	aggCfg := filepath.Join(root, "aggregator.yaml")
	if err := os.WriteFile(aggCfg, []byte(fmt.Sprintf(`server:
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
`, aggAddr, chAddr, db, aggMetrics, tlsDir)), 0o644); err != nil {
		return err
	}
	agg, err := start(logs, "lifeline-aggregator", "run", "--config", aggCfg)
	if err != nil {
		return err
	}
	procs = append(procs, agg)

	agentCfg, err := agentConfig(root, simAddr, aggAddr, agentMetrics, tlsDir)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := sim.WaitListening(wctx, simAddr); err != nil {
		return fmt.Errorf("plant simulator: %w (see var/demo/logs/lifeline-plantsim.log)", err)
	}
	agent, err := start(logs, "lifeline-agent", "run", "--config", agentCfg)
	if err != nil {
		return err
	}
	procs = append(procs, agent)
	fmt.Println("demo: plantsim, aggregator and agent started; logs in var/demo/logs (Ctrl-C stops)")

	// Grafana: the park's dashboards (live with GRAFANA_URL and GRAFANA_TOKEN, else files).
	grafana(root, aggCfg)

	tick := time.NewTicker(3 * time.Second)
	defer tick.Stop()
	var rows uint64
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
		}
		for _, p := range procs {
			if p.Exited() {
				return fmt.Errorf("%s exited early (see var/demo/logs/%s.log)", p.Name, p.Name)
			}
		}
		m, _ := launch.Scrape(agentMetrics) // nil while the agent starts: zeros
		rows, _ = countRows(chAddr, db)
		fmt.Printf("demo: read %d  buffered %d  acked %d  rows in ClickHouse %d  %s\n",
			uint64(m[agentservice.MetricSamplesReadTotal]), uint64(m[agentservice.MetricSamplesBufferedTotal]),
			uint64(m[agentservice.MetricSamplesAckedTotal]), rows, safetyLine(chAddr, db))
	}
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop(10 * time.Second)
	}
	rows, err = countRows(chAddr, db)
	if err != nil {
		return fmt.Errorf("count rows: %w", err)
	}
	if rows == 0 {
		return errors.New("no rows reached ClickHouse (see var/demo/logs)")
	}
	fmt.Printf("demo: ok, %d rows in ClickHouse %s database %s\n", rows, chAddr, db)
	return nil
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
