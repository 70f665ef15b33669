package service

import (
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/opcua"
	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
	"github.com/lifeline-telemetry/lifeline/agent/statuspage"
)

// getStatus reads the agent's /api/status?q=query.
func getStatus(t *testing.T, a *Agent, query string) statuspage.Status {
	t.Helper()
	resp, err := http.Get("http://" + a.StatusPageAddr() + "/api/status?q=" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/api/status: %s", resp.Status)
	}
	var st statuspage.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func findPoint(st statuspage.Status, id string) (statuspage.Point, bool) {
	for _, s := range st.Sources {
		for _, p := range s.Points {
			if p.ID == id {
				return p, true
			}
		}
	}
	return statuspage.Point{}, false
}

// The status document of a running agent carries the site, the source's
// state, every point's configuration in Chinese as written, its last
// value and quality, a quality change as it happens, and the outage of
// the source as an error and a gap.
func TestStatusPageSnapshot(t *testing.T) {
	sim := startSim(t, plantsim.Options{Addr: "127.0.0.1:0"})
	agg := newAggregator(t)
	agg.start(t)
	cfg := agentConfig(sim, agg.addr, t.TempDir())
	a, _ := runAgent(t, cfg, nil)
	waitFor(t, "the status page", 10*time.Second, func() bool { return a.StatusPageAddr() != "" })

	var st statuspage.Status
	waitFor(t, "every point's first value", 15*time.Second, func() bool {
		st = getStatus(t, a, "")
		for _, p := range st.Sources[0].Points {
			if p.Value == nil {
				return false
			}
		}
		return st.Sources[0].State == statuspage.StateConnected
	})
	if st.Site.Name != plantsim.SiteName || st.Site.Park != plantsim.SitePark {
		t.Errorf("site %+v", st.Site)
	}
	src := st.Sources[0]
	if src.Since == nil || src.LastData == nil || src.PointsTotal != len(sim.Catalog()) || len(src.Points) != src.PointsTotal {
		t.Errorf("source %s: since %v last data %v, %d/%d points", src.Name, src.Since, src.LastData, len(src.Points), src.PointsTotal)
	}
	hazards := map[string]string{}
	for _, h := range sim.HazardSources() {
		hazards[h.Code] = h.Name
	}
	for _, spec := range sim.Catalog() {
		p, ok := findPoint(st, spec.ID)
		if !ok {
			t.Errorf("point %s missing", spec.ID)
			continue
		}
		if p.Name != spec.Name || p.Description != spec.Description || p.Unit != spec.Unit || p.HazardName != hazards[spec.HazardSource] {
			t.Errorf("point %s: %q %q %q %q, want %q %q %q %q", spec.ID, p.Name, p.Description, p.Unit, p.HazardName,
				spec.Name, spec.Description, spec.Unit, hazards[spec.HazardSource])
		}
		if p.Quality != "Good" || p.SourceTime == nil || p.Received == nil {
			t.Errorf("point %s: quality %q source time %v received %v", spec.ID, p.Quality, p.SourceTime, p.Received)
		}
	}

	// A filter on Chinese text keeps the matching points only.
	st = getStatus(t, a, "%E6%B0%AF%E6%B0%94") // 氯气
	if n := st.Sources[0].PointsMatched; n == 0 || n != len(st.Sources[0].Points) || n == len(sim.Catalog()) {
		t.Errorf("filter 氯气: %d matched, %d shown", n, len(st.Sources[0].Points))
	}

	if err := sim.SetBad("GT101", true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "GT101's bad quality", 10*time.Second, func() bool {
		p, _ := findPoint(getStatus(t, a, "GT101"), "GT101")
		return p.Quality == "BadSensorFailure"
	})
}

// An outage of the OPC UA server and of the aggregator, as the page shows
// them: the source reconnecting with its last error, the backlog growing
// while the uplink is down and draining when it is back, and the outage
// as a gap once the source is read again.
func TestStatusPageOutage(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	simAddr := l.Addr().String()
	l.Close()
	agg := newAggregator(t)
	agg.start(t)
	sim := startSim(t, plantsim.Options{Addr: simAddr})
	a, _ := runAgent(t, agentConfig(sim, agg.addr, t.TempDir()), nil)
	waitFor(t, "samples acked", 20*time.Second, func() bool { return a.Stats().Acked > 0 })

	agg.stop()
	var st statuspage.Status
	waitFor(t, "the uplink down and a backlog", 10*time.Second, func() bool {
		st = getStatus(t, a, "")
		return !st.Uplink.Connected && st.Backlog.Batches > 0 && st.Backlog.Samples > 0 && st.Backlog.OldestAgeSeconds > 0
	})
	if st.Backlog.ETASeconds != 0 || st.Backlog.RatePerSecond != 0 {
		t.Errorf("backlog %+v: no drain rate or ETA while the uplink is down", st.Backlog)
	}

	if err := sim.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the source reconnecting with its error", 10*time.Second, func() bool {
		st = getStatus(t, a, "")
		src := st.Sources[0]
		return src.State == statuspage.StateReconnecting && src.Since != nil && src.LastError != nil && src.LastError.Error != ""
	})
	t.Logf("source error shown: %s: %s", st.Sources[0].LastError.Message, st.Sources[0].LastError.Error)

	startSim(t, plantsim.Options{Addr: simAddr})
	waitFor(t, "the outage as a gap", 15*time.Second, func() bool {
		st = getStatus(t, a, "")
		for _, g := range st.Gaps {
			if g.Reason == opcua.GapSourceUnavailable && g.Points == len(sim.Catalog()) && g.To.After(g.From) {
				return st.Sources[0].State == statuspage.StateConnected
			}
		}
		return false
	})

	agg.start(t)
	sawRate := false
	waitFor(t, "the backlog drained", 20*time.Second, func() bool {
		st = getStatus(t, a, "")
		sawRate = sawRate || st.Backlog.RatePerSecond > 0
		return st.Uplink.Connected && st.Backlog.Batches == 0
	})
	if !sawRate {
		t.Log("the backlog drained before a drain rate was measured")
	}
}
