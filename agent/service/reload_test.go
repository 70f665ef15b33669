package service

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
)

func writeConfig(t *testing.T, path string, cfg config.Config) {
	t.Helper()
	data, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Reloads add a source, restart one whose connection settings changed and
// remove one, each reader with its metrics, while the others read on; a
// file that needs a restart or does not validate changes nothing.
func TestReloadSources(t *testing.T) {
	agg := newAggregator(t)
	agg.start(t)
	sim := startSim(t, plantsim.Options{Addr: "127.0.0.1:0"})
	other := startSim(t, plantsim.Options{Addr: "127.0.0.1:0"})
	path := filepath.Join(t.TempDir(), "agent.yaml")
	cfg := agentConfig(sim, agg.addr, t.TempDir())
	writeConfig(t, path, cfg)
	rec := &tapped{}
	a, _ := runAgent(t, cfg, rec.tap)
	waitFor(t, "samples acked", 20*time.Second, func() bool { return a.Stats().Acked > 0 })

	second := agentConfig(other, agg.addr, "").Sources[0]
	second.Name = "second"
	for i := range second.Points {
		second.Points[i].ID = "S2-" + second.Points[i].ID
	}
	added := cfg
	added.Sources = []config.Source{cfg.Sources[0], second}
	writeConfig(t, path, added)
	if err := a.Reload(t.Context(), path); err != nil {
		t.Fatal(err)
	}
	reloaded := time.Now()
	waitFor(t, "the second source read", 15*time.Second, func() bool {
		return scrape(t, a)["lifeline_agent_source_connected/second"] == 1 && rec.readAfter(reloaded) > 0
	})
	// The status page follows: the added source's points show their values.
	newID := second.Points[0].ID
	waitFor(t, "the added source's point on the status page", 10*time.Second, func() bool {
		p, ok := findPoint(getStatus(t, a, newID), newID)
		return ok && p.Received != nil
	})

	restarted := added
	restarted.Sources = slices.Clone(added.Sources)
	restarted.Sources[0].PublishingInterval = config.Duration(200 * time.Millisecond)
	writeConfig(t, path, restarted)
	if err := a.Reload(t.Context(), path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the restarted source read again", 15*time.Second, func() bool {
		m := scrape(t, a)
		return m["lifeline_agent_source_connected/plantsim"] == 1 && m["lifeline_agent_source_sessions_total/plantsim"] == 1
	})

	removed := restarted
	removed.Sources = restarted.Sources[:1]
	writeConfig(t, path, removed)
	if err := a.Reload(t.Context(), path); err != nil {
		t.Fatal(err)
	}
	if m := scrape(t, a); m["lifeline_agent_source_sessions_total/second"] != 0 || m["lifeline_agent_source_connected/plantsim"] != 1 {
		t.Errorf("after removing the second source: its metrics %v, the first connected %v",
			m["lifeline_agent_source_sessions_total/second"], m["lifeline_agent_source_connected/plantsim"])
	}

	refused := removed
	refused.Buffer.MaxBytes *= 2
	writeConfig(t, path, refused)
	var re *ReloadError
	if err := a.Reload(t.Context(), path); !errors.As(err, &re) || re.Result != ReloadRestartRequired || !strings.Contains(err.Error(), "buffer") {
		t.Errorf("reload changing buffer.max_bytes: %v", err)
	}
	if err := os.WriteFile(path, []byte("site: {id: T01}\nsources: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(t.Context(), path); !errors.As(err, &re) || re.Result != ReloadInvalid {
		t.Errorf("reload of an invalid file: %v", err)
	}
	m := scrape(t, a)
	if m[MetricConfigReloadTotal] != 5 || len(a.running.sources.snapshot()) != 1 {
		t.Errorf("%v reloads counted, %d sources running", m[MetricConfigReloadTotal], len(a.running.sources.snapshot()))
	}
	acked := a.Stats().Acked
	waitFor(t, "data after the refused reloads", 10*time.Second, func() bool { return a.Stats().Acked > acked })
}
