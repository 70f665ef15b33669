package service

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lifeline-telemetry/lifeline/aggregator/alarm"
	"github.com/lifeline-telemetry/lifeline/aggregator/ingest"
	"github.com/lifeline-telemetry/lifeline/aggregator/memwatch"
	"github.com/lifeline-telemetry/lifeline/aggregator/report"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
)

// registerMetrics registers every metric the aggregator exports on reg
// (their names are in aggregator/metrics, their meaning in docs/metrics.md)
// and returns the ingest service's and the daily report's, which they update
// themselves.
func registerMetrics(reg prometheus.Registerer, wr *writer.Writer, ev *alarm.Evaluator) (*ingest.Metrics, *ingest.LinkMetrics, *report.Metrics) {
	writer.NewMetrics(wr, reg)
	alarm.NewMetrics(ev, reg)
	reg.MustRegister(goCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return ingest.NewMetrics(reg), ingest.NewLinkMetrics(reg), report.NewMetrics(reg)
}

// goCollector is the Go runtime's collector with its default series and
// those memwatch reads, so that `status` and Prometheus can tell a tight
// memory limit from a heavy load.
func goCollector() prometheus.Collector {
	return collectors.NewGoCollector(
		collectors.WithGoCollectorRuntimeMetrics(collectors.GoRuntimeMetricsRule{Matcher: memwatch.RuntimeMetrics()}),
	)
}
