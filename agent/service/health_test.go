package service

import (
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
	"github.com/lifeline-telemetry/lifeline/proto/obs/obstest"
)

// /readyz follows the OPC UA source: 503 naming it while its server is not
// up, 200 once it is read, 503 again when the server stops. /healthz, the
// alive loop's heartbeat, stays 200 throughout: a source down is not a
// reason to restart the agent.
func TestReadyzFollowsTheSource(t *testing.T) {
	simAddr := freeAddr(t)
	agg := newAggregator(t)
	agg.start(t)
	cfg := agentConfig(plantsim.New(plantsim.Options{Addr: simAddr}), agg.addr, t.TempDir())
	a, _ := runAgent(t, cfg, nil)
	base := "http://" + a.MetricsAddr()
	healthy := func(when string) {
		t.Helper()
		if code, body := obstest.Probe(t, base+"/healthz?verbose"); code != 200 || !strings.Contains(body, "[+]alive_loop ok: came round") {
			t.Fatalf("/healthz %s: %d %q", when, code, body)
		}
	}

	obstest.WaitProbe(t, base+"/readyz?verbose", "/readyz 503 naming the source not yet up", 10*time.Second, 503,
		"[+]buffer ok: open", "[-]opcua failed: no source is read: plantsim (not connected")
	// The alive loop starts a moment after the buffer opens; until its first
	// beat /healthz answers 200 "not started yet", which is also alive.
	obstest.WaitProbe(t, base+"/healthz?verbose", "/healthz 200 with the source not up", 10*time.Second, 200,
		"[+]alive_loop ok: came round")

	sim := startSim(t, plantsim.Options{Addr: simAddr})
	obstest.WaitProbe(t, base+"/readyz?verbose", "/readyz 200 once the source is read", 20*time.Second, 200,
		"[+]opcua ok: 1 of 1 sources read")
	healthy("with the source read")

	if err := sim.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	obstest.WaitProbe(t, base+"/readyz?verbose", "/readyz 503 after the source stopped", 10*time.Second, 503,
		"[-]opcua failed: no source is read: plantsim (not connected for")
	healthy("after the source stopped")
}
