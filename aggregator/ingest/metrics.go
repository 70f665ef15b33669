package ingest

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-telemetry/lifeline/aggregator/metrics"
)

// Metrics are the ingest service's Prometheus metrics.
type Metrics struct {
	streams    prometheus.Gauge
	batches    prometheus.Counter
	samples    prometheus.Counter
	rejected   prometheus.Counter
	duplicates prometheus.Counter
	ackLatency prometheus.Histogram
}

// NewMetrics creates the metrics and registers them with reg (which may be nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metrics.IngestStreams, Help: "Agent streams currently open."}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.IngestBatchesTotal, Help: "Batches received from agents."}),
		samples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.IngestSamplesTotal, Help: "Valid samples received from agents."}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.IngestRejectedSamplesTotal, Help: "Samples refused as invalid (unknown point, absurd time, NaN, bad UTF-8)."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.IngestDuplicateSamplesTotal, Help: "Re-sent initial values already stored, not stored again."}),
		ackLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: metrics.IngestAckLatencySeconds, Help: "Time from receiving a batch to acking its commit.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
	}
	if reg != nil {
		reg.MustRegister(m.streams, m.batches, m.samples, m.rejected, m.duplicates, m.ackLatency)
	}
	return m
}
