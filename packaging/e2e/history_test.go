package e2e

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	agentservice "github.com/lifeline-telemetry/lifeline/agent/service"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

// startHistoryServer runs the node-opcua interoperability server (make
// node-opcua installs node-opcua under var/node-opcua) with history kept
// for its Counter and Steady nodes, and returns its endpoint.
func startHistoryServer(t *testing.T) string {
	t.Helper()
	root, modules, port := nodeOPCUA(t)
	ctx, cancel := context.WithCancel(context.Background())
	script := filepath.Join(root, "agent", "opcua", "testdata", "node-opcua-server.js")
	cmd := exec.CommandContext(ctx, "node", script, strconv.Itoa(port), filepath.Join(t.TempDir(), "pki"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "LIFELINE_HISTORY=1")
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY ") {
				close(ready)
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() {
		stdin.Close()
		cancel()
		cmd.Wait()
		<-done
	})
	select {
	case <-ready:
	case <-done:
		t.Fatalf("node-opcua server exited:\n%s", stderr.String())
	case <-time.After(3 * time.Minute): // 17 s at load average 34 on 2 cores, over a minute at 40
		t.Fatalf("node-opcua server not ready after 3 minutes:\n%s", stderr.String())
	}
	return "opc.tcp://127.0.0.1:" + strconv.Itoa(port)
}

// nodeAgentConfig is an agent of site reading node-opcua's Counter (CNT)
// and Steady (STEADY) at endpoint.
func nodeAgentConfig(t *testing.T, site, endpoint, aggregator string) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Site = config.Site{ID: site, Name: "node-opcua plant", Park: "park"}
	cfg.Aggregator.Address = aggregator
	cfg.Aggregator.TLS.Insecure = true
	cfg.Buffer.Dir = t.TempDir()
	cfg.Metrics.Listen = ""
	src := config.Source{Name: "node-opcua", Endpoint: endpoint,
		PublishingInterval: config.Duration(100 * time.Millisecond), SamplingInterval: config.Duration(50 * time.Millisecond)}
	config.SourceDefaults(&src)
	const nsu = "nsu=urn:test:node-opcua;s="
	src.Points = []config.Point{{ID: "CNT", Node: nsu + "Plant.Counter"}, {ID: "STEADY", Node: nsu + "Plant.Steady"}}
	cfg.Sources = []config.Source{src}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestHistoryBackfillStoredOnce: the agent is stopped for 30 s while a
// historized counter changes every 200 ms. After the restart ClickHouse
// holds each value of the counter at most once, every value from the last
// one read before the stop on with backfill = 2 up to the first read live
// again, and the agent_stopped gap says they were recovered.
func TestHistoryBackfillStoredOnce(t *testing.T) {
	endpoint := startHistoryServer(t)
	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	logger := testLogger(t)
	agg, stopAgg := startFlowAggregator(t, ctx, addr, db, logger)
	stopAgg = sync.OnceFunc(stopAgg)
	defer stopAgg()

	cfg := nodeAgentConfig(t, "HIST01", endpoint, agg.Addr())
	run := func(name string, until func(*agentservice.Agent) bool) {
		agent := agentservice.New(cfg, "e2e", logger.With("process", name))
		actx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- agent.Run(actx) }()
		waitFor(t, ctx, name+" to store and send", func() bool { return until(agent) })
		stop()
		if err := <-done; err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	run("agent-a", func(a *agentservice.Agent) bool { st := a.Stats(); return st.Acked >= 30 && st.BufferEntries == 0 })
	stopped := time.Now()
	time.Sleep(30 * time.Second) // the stop: the counter moves on with no agent reading it

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Auth: clickhouse.Auth{Database: db}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	gapRows := func() uint64 {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM gaps WHERE site_id = 'HIST01'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	restarted := time.Now()
	run("agent-b", func(a *agentservice.Agent) bool { return gapRows() > 0 && a.Stats().BufferEntries == 0 })
	// The aggregator writes every batch it took before it stops: a batch
	// still being written would read as a missing value.
	stopAgg()

	checkHistoryStored(t, ctx, conn, gapRows(), stopped, restarted)
}

// checkHistoryStored checks the counter's rows and the gap in ClickHouse;
// no agent read the server from stopped to restarted.
func checkHistoryStored(t *testing.T, ctx context.Context, conn clickhouse.Conn, gaps uint64, stopped, restarted time.Time) {
	t.Helper()
	var rows, distinct, history, steady uint64
	var lo, hi, histLo, histHi float64
	if err := conn.QueryRow(ctx, `SELECT countIf(point_id = 'CNT'), uniqExactIf(ts_ns, point_id = 'CNT'), countIf(point_id = 'CNT' AND backfill = 2),
       countIf(point_id = 'STEADY'), minIf(value, point_id = 'CNT'), maxIf(value, point_id = 'CNT'),
       minIf(value, point_id = 'CNT' AND backfill = 2), maxIf(value, point_id = 'CNT' AND backfill = 2)
FROM samples WHERE site_id = 'HIST01'`).Scan(&rows, &distinct, &history, &steady, &lo, &hi, &histLo, &histHi); err != nil {
		t.Fatal(err)
	}
	t.Logf("counter: %d rows (%d distinct) from %v to %v; %d from history (%v..%v); steady: %d rows", rows, distinct, lo, hi, history, histLo, histHi, steady)
	if rows != distinct {
		logMissing(t, ctx, conn, lo)
		t.Fatalf("counter values %v..%v: %d rows, %d distinct; want each value once", lo, hi, rows, distinct)
	}
	// node-opcua samples the counter on a timer and skips a tick while the
	// previous sample is pending (monitored_item.js, GoodOverload), so on a
	// loaded machine an agent reading live never sees some values. Its
	// history keeps every value: the values read back must be whole and
	// join the last value the stopped agent read.
	if float64(rows) != hi-lo+1 {
		t.Logf("live values the server never sampled: %v", hi-lo+1-float64(rows))
		logMissing(t, ctx, conn, lo)
	}
	if steady != 1 {
		t.Fatalf("%d rows of the steady point, want 1", steady)
	}
	// What the counter took while no agent ran comes from history, however
	// often a loaded machine let it tick. The window ends short of the
	// restart: the value current then is the restarted agent's first live one.
	var during, duringHistory uint64
	if err := conn.QueryRow(ctx, "SELECT count(), countIf(backfill = 2) FROM samples WHERE site_id = 'HIST01' AND point_id = 'CNT' AND ts_ns >= ? AND ts_ns < ?",
		stopped.UnixNano(), restarted.Add(-5*time.Second).UnixNano()).Scan(&during, &duringHistory); err != nil {
		t.Fatal(err)
	}
	if during == 0 || duringHistory != during || history < during {
		t.Fatalf("%d counter values while no agent ran, %d of them from history (%d in all); want all from history", during, duringHistory, history)
	}
	var inside uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM samples WHERE site_id = 'HIST01' AND point_id = 'CNT' AND backfill != 2 AND value >= ? AND value <= ?",
		histLo, histHi).Scan(&inside); err != nil {
		t.Fatal(err)
	}
	if inside != 0 || histHi-histLo+1 != float64(history) {
		t.Fatalf("values from history %v..%v (%d), %d live values among them", histLo, histHi, history, inside)
	}
	var joined uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM samples WHERE site_id = 'HIST01' AND point_id = 'CNT' AND backfill != 2 AND value = ? AND ts_ns < ?",
		histLo-1, stopped.UnixNano()).Scan(&joined); err != nil {
		t.Fatal(err)
	}
	if joined != 1 {
		t.Fatalf("values from history start at %v, but %v was not read live before the stop", histLo, histLo-1)
	}
	var reason, recovery string
	var recovered uint64
	if err := conn.QueryRow(ctx, "SELECT reason, recovery, recovered FROM gaps FINAL WHERE site_id = 'HIST01'").Scan(&reason, &recovery, &recovered); err != nil {
		t.Fatal(err)
	}
	if reason != "agent_stopped" || recovery != "recovered" || recovered != history || gaps != 1 {
		t.Fatalf("gap %s %s recovered %d (%d rows), want agent_stopped recovered %d", reason, recovery, recovered, gaps, history)
	}
}

// logMissing logs where the counter's stored values skip one.
func logMissing(t *testing.T, ctx context.Context, conn clickhouse.Conn, lo float64) {
	rows, err := conn.Query(ctx, "SELECT value, backfill, ts_ns, seq FROM samples WHERE site_id = 'HIST01' AND point_id = 'CNT' ORDER BY value")
	if err != nil {
		t.Log(err)
		return
	}
	defer rows.Close()
	prev := lo - 1
	for rows.Next() {
		var v float64
		var bf uint8
		var ts int64
		var seq uint64
		if err := rows.Scan(&v, &bf, &ts, &seq); err != nil {
			t.Log(err)
			return
		}
		if v != prev+1 {
			t.Logf("values missing before %v (backfill %d, source time %v, batch %d)", v, bf, time.Unix(0, ts).UTC(), seq)
		}
		prev = v
	}
}
