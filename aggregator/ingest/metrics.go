package ingest

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the ingest service's Prometheus metrics.
type Metrics struct {
	streams    prometheus.Gauge
	batches    prometheus.Counter
	samples    prometheus.Counter
	rejected   prometheus.Counter
	duplicates prometheus.Counter
	setAside   prometheus.Counter
	nacks      prometheus.Counter
	ackLatency prometheus.Histogram
	// siteInUse counts streams refused because another agent's stream of
	// the site is live; bufferBehind counts handshakes whose agent buffer
	// is older than what the ledger holds from it.
	siteInUse    prometheus.Counter
	bufferBehind prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg (which may be nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lifeline_ingest_streams", Help: "Agent streams currently open."}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lifeline_ingest_batches_total", Help: "Batches received from agents."}),
		samples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lifeline_ingest_samples_total", Help: "Valid samples received from agents."}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lifeline_ingest_rejected_samples_total", Help: "Samples refused as invalid (unknown point, absurd time, NaN, bad UTF-8)."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lifeline_ingest_duplicate_samples_total", Help: "Re-sent initial values already stored, not stored again."}),
		setAside: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lifeline_ingest_set_aside_samples_total", Help: "Samples ClickHouse refused for good, kept in rejected_batches."}),
		nacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lifeline_ingest_nacks_total", Help: "Batches not committed; the agent keeps them and sends them again."}),
		ackLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "lifeline_ingest_ack_latency_seconds", Help: "Time from receiving a batch to acking its commit.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		siteInUse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lifeline_ingest_site_in_use_refusals_total", Help: "Agent streams refused because another agent's stream of the site is live."}),
		bufferBehind: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lifeline_ingest_buffer_behind_ledger_total", Help: "Handshakes whose agent buffer is older than what the ledger holds from it (a restored copy, a power cut)."}),
	}
	if reg != nil {
		reg.MustRegister(m.streams, m.batches, m.samples, m.rejected, m.duplicates, m.setAside, m.nacks, m.ackLatency,
			m.siteInUse, m.bufferBehind)
	}
	return m
}
