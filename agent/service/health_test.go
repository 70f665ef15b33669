package service

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
)

func probe(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// /readyz follows the OPC UA source: 503 naming it while its server is not
// up, 200 once it is read, 503 again when the server stops. /healthz, the
// alive loop's heartbeat, stays 200 throughout: a source down is not a
// reason to restart the agent.
func TestReadyzFollowsTheSource(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	simAddr := l.Addr().String()
	l.Close()
	agg := newAggregator(t)
	agg.start(t)
	cfg := agentConfig(plantsim.New(plantsim.Options{Addr: simAddr}), agg.addr, t.TempDir())
	a, _ := runAgent(t, cfg, nil)
	base := "http://" + a.MetricsAddr()
	ready := func(wantCode int, want ...string) func() bool {
		return func() bool {
			code, body := probe(t, base+"/readyz?verbose")
			for _, w := range want {
				if !strings.Contains(body, w) {
					return false
				}
			}
			return code == wantCode
		}
	}
	healthy := func(when string) {
		t.Helper()
		if code, body := probe(t, base+"/healthz?verbose"); code != 200 || !strings.Contains(body, "[+]alive_loop ok: came round") {
			t.Fatalf("/healthz %s: %d %q", when, code, body)
		}
	}

	waitFor(t, "/readyz 503 naming the source not yet up", 10*time.Second,
		ready(503, "[+]buffer ok: open", "[-]opcua failed: no source is read: plantsim (not connected"))
	healthy("with the source not up")

	sim := startSim(t, plantsim.Options{Addr: simAddr})
	waitFor(t, "/readyz 200 once the source is read", 20*time.Second, ready(200, "[+]opcua ok: 1 of 1 sources read"))
	healthy("with the source read")

	if err := sim.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/readyz 503 after the source stopped", 10*time.Second,
		ready(503, "[-]opcua failed: no source is read: plantsim (not connected for"))
	healthy("after the source stopped")
}
