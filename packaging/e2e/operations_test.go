package e2e

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/proto/obs/obstest"
)

// aggStatus is what an operator's script reads from `lifeline-aggregator
// status --json`, decoded independently of the command's own types.
type aggStatus struct {
	Ready  bool `json:"ready"`
	Checks []struct {
		Name  string `json:"name"`
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	} `json:"checks"`
	Sites []struct {
		Site      string `json:"site"`
		Connected bool   `json:"connected"`
	} `json:"sites"`
	Ingest struct {
		Samples          float64  `json:"samples"`
		SamplesPerSecond *float64 `json:"samples_per_second"`
	} `json:"ingest"`
	Writer struct {
		Rows       float64 `json:"rows"`
		LastInsert *string `json:"last_insert"`
	} `json:"writer"`
}

// status runs the aggregator binary's status command against the running
// aggregator, as an operator would.
func (c *cluster) status(args ...string) string {
	c.t.Helper()
	args = append([]string{"status", "--config", c.aggConfig, "--interval", "2s"}, args...)
	out, err := exec.Command(filepath.Join(binaries(c.t), "lifeline-aggregator"), args...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("lifeline-aggregator %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (c *cluster) statusJSON() aggStatus {
	c.t.Helper()
	out := c.status("--json")
	var st aggStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		c.t.Fatalf("status --json: %v\n%s", err, out)
	}
	return st
}

// The operator's view of a running system, every part a real process:
// both binaries live and ready, `lifeline-aggregator status` showing the
// agent's site connected and data flowing; then the agent's readiness
// follows its OPC UA server going away and the aggregator's follows
// ClickHouse, while both stay live (a restart would cure neither).
func TestOperationsProbesAndStatus(t *testing.T) {
	c := newCluster(t, clusterOptions{points: 100, rate: 2, ownServer: true})
	c.flowing(200)
	agent, agg := "http://"+c.agentMetrics, "http://"+c.aggMetrics
	live := func(when string) {
		t.Helper()
		for _, base := range []string{agent, agg} {
			if code, body := obstest.Probe(t, base+"/healthz"); code != 200 || body != "ok\n" {
				t.Fatalf("%s/healthz %s: %d %q", base, when, code, body)
			}
		}
	}
	obstest.WaitProbe(t, agent+"/readyz", "the agent ready", 10*time.Second, 200, "ok")
	obstest.WaitProbe(t, agg+"/readyz", "the aggregator ready", 10*time.Second, 200, "ok")
	live("while data flows")

	st := c.statusJSON()
	connected := false
	for _, s := range st.Sites {
		connected = connected || (s.Site == c.site && s.Connected)
	}
	if !st.Ready || !connected || st.Ingest.Samples == 0 || st.Ingest.SamplesPerSecond == nil || *st.Ingest.SamplesPerSecond <= 0 ||
		st.Writer.Rows == 0 || st.Writer.LastInsert == nil {
		t.Fatalf("status --json while data flows: %+v", st)
	}
	out := c.status()
	t.Logf("status while data flows:\n%s", out)
	if !strings.Contains(out, "READY") || !strings.Contains(out, "1 connected: "+c.site) ||
		!strings.Contains(out, "samples/s") || !strings.Contains(out, "  memory      live heap ") ||
		!strings.Contains(out, " MiB memory limit; garbage collection ") {
		t.Fatalf("status while data flows:\n%s", out)
	}

	c.sim.Stop(10 * time.Second)
	obstest.WaitProbe(t, agent+"/readyz", "the agent not ready without its OPC UA server", 15*time.Second, 503,
		"[-]opcua failed: no source is read: plantsim (not connected")
	if err := c.ch.Stop(); err != nil {
		t.Fatal(err)
	}
	obstest.WaitProbe(t, agg+"/readyz", "the aggregator not ready without ClickHouse", 15*time.Second, 503,
		"[-]clickhouse failed: ping clickhouse")
	live("with the OPC UA server and ClickHouse down")
	st = c.statusJSON()
	failed := ""
	for _, ch := range st.Checks {
		if !ch.OK {
			failed += ch.Name + " "
		}
	}
	if st.Ready || !strings.Contains(failed, "clickhouse") {
		t.Fatalf("status --json with ClickHouse down: ready %v, failed checks %q", st.Ready, failed)
	}
	out = c.status()
	t.Logf("status with ClickHouse down:\n%s", out)
	if !strings.Contains(out, "NOT READY") || !strings.Contains(out, "clickhouse  FAILED: ping clickhouse") {
		t.Fatalf("status with ClickHouse down:\n%s", out)
	}
}
