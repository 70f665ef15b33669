package opcua

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// startSim starts the plant simulator on addr and stops it at cleanup.
func startSim(t *testing.T, o plantsim.Options) *plantsim.Sim {
	t.Helper()
	if o.Tick == 0 {
		o.Tick = 100 * time.Millisecond
	}
	o.ExcursionsPerHour = -1
	sim := plantsim.New(o)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdownSim(t, sim) })
	return sim
}

func shutdownSim(t *testing.T, sim *plantsim.Sim) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sim.Shutdown(ctx); err != nil {
		t.Errorf("plantsim shutdown: %v", err)
	}
}

func simSource(sim *plantsim.Sim) config.Source {
	src := sim.AgentConfig("127.0.0.1:7400", "/nonexistent", "T01").Sources[0]
	src.PublishingInterval = config.Duration(100 * time.Millisecond)
	src.ReconnectMin, src.ReconnectMax = config.Duration(100*time.Millisecond), config.Duration(500*time.Millisecond)
	return src
}

// numeric and text points of the simulator: the ones that have decoys.
func decoyed(sim *plantsim.Sim) []string {
	var ids []string
	for _, p := range sim.Catalog() {
		if p.Type == plantsim.Double || p.Type == plantsim.String {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

func hasAll(got map[string][]*lifelinev1.Sample, ids []string) bool {
	for _, id := range ids {
		if len(got[id]) == 0 {
			return false
		}
	}
	return true
}

// The simulator restarts on the same port with two namespaces registered
// before its own, both full of decoy nodes under the plant's identifiers:
// the plant's namespace index moves from 1 to 3, and index 1 now serves
// decoys. The reader re-reads the namespace array on reconnect and keeps
// reading the right points: no decoy value ever reaches the sink.
func TestPlantsimRestartWithReorderedNamespaces(t *testing.T) {
	t.Parallel()
	addr := "127.0.0.1:" + itoa(freePort(t)) // listened on again after the restart

	sim := startSim(t, plantsim.Options{Addr: addr})
	src := simSource(sim)
	ids := decoyed(sim)
	rec := &recorder{}
	r := New(src, rec, testLogger(t))
	stop := running(t, r)
	defer stop()
	waitFor(t, "samples of every numeric and text point", 15*time.Second, func() bool { return hasAll(rec.samples(time.Time{}), ids) })

	shutdownSim(t, sim)
	waitFor(t, "the reader to notice", 10*time.Second, func() bool { return !r.Stats().Connected })
	restarted := time.Now()
	startSim(t, plantsim.Options{Addr: addr, ExtraNamespaces: []string{"urn:test:decoy-a", "urn:test:decoy-b"}, DecoyValues: true})
	waitFor(t, "samples after the restart", 20*time.Second, func() bool { return hasAll(rec.samples(restarted), ids) })

	for id, ss := range rec.samples(time.Time{}) {
		for _, s := range ss {
			if s.GetNumber() == plantsim.DecoyNumber || s.GetText() == plantsim.DecoyText {
				t.Fatalf("point %s got a decoy value: the reader kept a stale namespace index", id)
			}
		}
	}
	if st := r.Stats(); st.Unresolved != 0 || st.BadItems != 0 || st.Reconnects < 1 {
		t.Errorf("stats %+v", st)
	}
}

// Repeated connection drops with a few thousand monitored items: the
// simulator keeps answering, and each new subscription delivers every
// point (gopcua's server used to wedge or lose the new subscription after
// a few drops).
func TestPlantsimSurvivesConnectionDrops(t *testing.T) {
	t.Parallel()
	const points, drops = 1000, 10
	sim := startSim(t, plantsim.Options{Addr: "127.0.0.1:0", Points: points, Rate: 5})
	src := loadSource(sim.Endpoint(), points)
	src.ReconnectMin, src.ReconnectMax = config.Duration(10*time.Millisecond), config.Duration(20*time.Millisecond)
	sink := &counter{}
	r := New(src, sink, testLogger(t))
	r.monitorPause = 0
	running(t, r)
	for i := range drops {
		n0 := sink.n.Load()
		waitFor(t, fmt.Sprintf("a round of data after drop %d", i), 10*time.Second, func() bool {
			return r.Stats().Connected && sink.n.Load() >= n0+points
		})
		before := r.Stats().Reconnects
		sim.DropConnections()
		waitFor(t, "the reader to notice the drop", 5*time.Second, func() bool { return r.Stats().Reconnects > before })
	}
	n0 := sink.n.Load()
	waitFor(t, "data after the last drop", 10*time.Second, func() bool { return sink.n.Load() >= n0+points })
}
