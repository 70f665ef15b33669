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

// RecordConditionEvent passes a reader's condition event to the batcher.
func (t tee) RecordConditionEvent(e *lifelinev1.ConditionEvent) {
	if er, ok := t.sink.(opcua.ConditionEventRecorder); ok {
		er.RecordConditionEvent(e)
	}
}

// sourceCollectors are one OPC UA source's metrics, labelled by the
// source's name: whether it is read now, for how long it has not been,
// how many outages were recorded as gaps, and the sessions,
// subscriptions and monitored items behind it (a reloaded point list
// moves only the items).
func sourceCollectors(ls *liveSource) []prometheus.Collector {
	r, labels := ls.reader, prometheus.Labels{"source": ls.cfg.Name}
	counter := func(name, help string, f func(opcua.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(f(r.Stats())) })
	}
	return []prometheus.Collector{
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
		counter(MetricSourceHistoryReadTotal, "Values read back from the OPC UA server's history for spans the agent was not reading.",
			func(st opcua.Stats) uint64 { return st.HistoryRecovered }),
		counter(MetricSourceConditionEvents, "The OPC UA server's alarm and condition events read (events enabled), ConditionRefresh copies included.",
			func(st opcua.Stats) uint64 { return st.ConditionEvents }),
		counter(MetricSourceOutagesTotal, "Spans during which the OPC UA source could not be read, each recorded as a source_unavailable gap.",
			func(st opcua.Stats) uint64 { return st.Outages }),
		counter(MetricSourceSessionsTotal, "OPC UA sessions opened to the source.",
			func(st opcua.Stats) uint64 { return st.Sessions }),
		counter(MetricSourceSubscriptionsTotal, "OPC UA subscriptions created on the source.",
			func(st opcua.Stats) uint64 { return st.SubscriptionsCreated }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricSourceMonitoredItems,
			Help: "Monitored items live on the source now.", ConstLabels: labels},
			func() float64 { return float64(r.Stats().Monitored) }),
	}
}
