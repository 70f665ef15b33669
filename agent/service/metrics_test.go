package service

import (
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/opcua"
	"github.com/lifeline-telemetry/lifeline/proto/obs/obstest"
)

func TestMetricsDocumented(t *testing.T) {
	cfg := config.Default()
	cfg.Sources = []config.Source{{Name: "dcs"}}
	a := New(cfg, "test", slog.New(slog.DiscardHandler))
	names := obstest.Registered(t, func(reg prometheus.Registerer) {
		// The metrics read the pipeline only when scraped.
		p := &pipeline{}
		a.registerMetrics(reg, p)
		reg.MustRegister(sourceCollectors(&liveSource{cfg: cfg.Sources[0], reader: opcua.New(cfg.Sources[0], nil, slog.New(slog.DiscardHandler))})...)
		a.registerDiskMetrics(reg, p)
	})
	obstest.CheckDocumented(t, "../../docs/metrics.md", "lifeline-agent", names)
}
