package forward_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-telemetry/lifeline/aggregator/forward"
	"github.com/lifeline-telemetry/lifeline/proto/obs/obstest"
)

func TestMetricsDocumented(t *testing.T) {
	names := obstest.Registered(t, func(reg prometheus.Registerer) {
		forward.New(forward.Config{}, nil, nil, reg, nil)
	})
	obstest.CheckDocumented(t, "../../docs/metrics.md", "lifeline-aggregator forwarder", names)
}
