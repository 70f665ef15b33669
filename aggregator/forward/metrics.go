package forward

import (
	"github.com/prometheus/client_golang/prometheus"

	names "github.com/lifeline-telemetry/lifeline/aggregator/metrics"
)

// metrics are per target (and message kind).
type metrics struct {
	sent, failed            *prometheus.CounterVec
	lag, cursorAge, backlog *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: names.ForwardSentTotal,
			Help: "Messages the platform accepted, by target and kind."}, []string{"target", "kind"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: names.ForwardFailedTotal,
			Help: "Sends that failed (retried later, or recorded in forward_gaps when refused for good), by target and kind."}, []string{"target", "kind"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: names.ForwardLagSeconds,
			Help: "Seconds between now and the end of the newest real-time period sent, by target."}, []string{"target"}),
		cursorAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: names.ForwardCursorAgeSeconds,
			Help: "Seconds between now and the oldest real-time period not yet sent, by target."}, []string{"target"}),
		backlog: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: names.ForwardBacklogSeconds,
			Help: "Seconds of missed real-time periods still to send, by target."}, []string{"target"}),
	}
	if reg != nil {
		reg.MustRegister(m.sent, m.failed, m.lag, m.cursorAge, m.backlog)
	}
	return m
}
