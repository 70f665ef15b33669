package service

import (
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/proto/obs/obstest"
)

func TestMetricsDocumented(t *testing.T) {
	a := New(config.Default(), "test", slog.New(slog.DiscardHandler))
	names := obstest.Registered(t, func(reg prometheus.Registerer) {
		// The metrics read the pipeline only when scraped.
		a.registerMetrics(reg, &pipeline{})
	})
	obstest.CheckDocumented(t, "../../docs/metrics.md", "lifeline-agent", names)
}
