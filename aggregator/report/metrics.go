package report

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-telemetry/lifeline/aggregator/metrics"
)

// Metrics count the schedule's reports, per park.
type Metrics struct {
	sent, failures *prometheus.CounterVec
}

// NewMetrics registers the report metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metrics.ReportSentTotal,
			Help: "Daily reports mailed and recorded."}, []string{"park"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metrics.ReportFailuresTotal,
			Help: "Daily report attempts that failed (query, rendering, mail or record); retried."}, []string{"park"}),
	}
	reg.MustRegister(m.sent, m.failures)
	return m
}

func (m *Metrics) observe(park string, sent int, err error) {
	if m == nil {
		return
	}
	if sent > 0 {
		m.sent.WithLabelValues(park).Add(float64(sent))
	}
	if err != nil {
		m.failures.WithLabelValues(park).Inc()
	}
}
