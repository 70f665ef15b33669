package notify

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-telemetry/lifeline/aggregator/metrics"
)

// Metrics count deliveries per recipient type (webhook, dingtalk, …).
type Metrics struct {
	sent       *prometheus.CounterVec
	failed     *prometheus.CounterVec
	suppressed *prometheus.CounterVec
	pending    prometheus.Gauge
}

// NewMetrics registers the notifier's metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metrics.NotifySentTotal,
			Help: "Notifications delivered, per recipient type."}, []string{"type"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metrics.NotifyFailedTotal,
			Help: "Delivery attempts that failed, per recipient type."}, []string{"type"}),
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metrics.NotifySuppressedTotal,
			Help: "Alarm notifications folded into a summary, per reason (flood, backfill)."}, []string{"reason"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: metrics.NotifyOutboxPending,
			Help: "Notifications decided but not yet delivered or given up."}),
	}
	if reg != nil {
		reg.MustRegister(m.sent, m.failed, m.suppressed, m.pending)
	}
	return m
}
