package service

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-telemetry/lifeline/aggregator/alarm"
	"github.com/lifeline-telemetry/lifeline/aggregator/notify"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
	"github.com/lifeline-telemetry/lifeline/proto/obs/obstest"
)

func TestMetricsDocumented(t *testing.T) {
	names := obstest.Registered(t, func(reg prometheus.Registerer) {
		st := store.New(store.DefaultConfig(), nil) // no I/O: nothing is opened
		registerMetrics(reg, writer.New(st, writer.DefaultOptions(), nil), alarm.New(st, alarm.DefaultOptions(), nil))
		notify.NewMetrics(reg)
	})
	obstest.CheckDocumented(t, "../../docs/metrics.md", "lifeline-aggregator", names)
}
