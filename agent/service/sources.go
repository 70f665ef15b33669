package service

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-telemetry/lifeline/agent/opcua"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// RecordGap passes a reader's gap record to the batcher, so a tap does not
// hide the sink's gap keeping from the readers.
func (t tee) RecordGap(g *lifelinev1.Gap) {
	if gr, ok := t.sink.(opcua.GapRecorder); ok {
		gr.RecordGap(g)
	}
}

// RecordLiveness passes a reader's liveness record to the batcher.
func (t tee) RecordLiveness(l *lifelinev1.Liveness) {
	if lr, ok := t.sink.(opcua.LivenessRecorder); ok {
		lr.RecordLiveness(l)
	}
}

// registerSourceMetrics exposes each OPC UA source's health, labelled by
// the source's name: whether it is read now, for how long it has not
// been, and how many outages were recorded as gaps.
func (a *Agent) registerSourceMetrics(reg prometheus.Registerer, p *pipeline) {
	for i, r := range p.readers {
		labels := prometheus.Labels{"source": a.cfg.Sources[i].Name}
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricSourceConnected,
				Help: "1 while the OPC UA source is read (session and subscription or polling running).", ConstLabels: labels},
				func() float64 {
					if r.Stats().Connected {
						return 1
					}
					return 0
				}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricSourceDownSeconds,
				Help: "How long the OPC UA source has been unreadable (0 while it is read).", ConstLabels: labels},
				func() float64 {
					if since := r.Stats().DownSince; !since.IsZero() {
						return time.Since(since).Seconds()
					}
					return 0
				}),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: MetricSourceOutagesTotal,
				Help: "Spans during which the OPC UA source could not be read, each recorded as a source_unavailable gap.", ConstLabels: labels},
				func() float64 { return float64(r.Stats().Outages) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: MetricSourceHistoryReadTotal,
				Help: "Values read back from the OPC UA server's history for spans the agent was not reading.", ConstLabels: labels},
				func() float64 { return float64(r.Stats().HistoryRecovered) }),
		)
	}
}
