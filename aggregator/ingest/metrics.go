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
	setAside   prometheus.Counter
	nacks      prometheus.Counter
	ackLatency prometheus.Histogram
	// siteInUse counts streams refused because another agent's stream of
	// the site is live; bufferBehind counts handshakes whose agent buffer
	// is older than what the ledger holds from it.
	siteInUse    prometheus.Counter
	bufferBehind prometheus.Counter
	// refusals counts streams refused by a limit, by cause; unidentified
	// counts open streams that have not yet sent their hello.
	refusals     *prometheus.CounterVec
	unidentified prometheus.Gauge
	panics       prometheus.Counter
	// heartbeatsDropped counts agent status rows not stored, by cause.
	heartbeatsDropped *prometheus.CounterVec
	// rejectedGaps counts gaps left out of a batch for absurd times.
	rejectedGaps prometheus.Counter
	// sites shows which sites are connected; NewService gives it its sessions.
	sites *siteStreams
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
		setAside: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.IngestSetAsideSamplesTotal, Help: "Samples ClickHouse refused for good, kept in rejected_batches."}),
		nacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.IngestNacksTotal, Help: "Batches not committed; the agent keeps them and sends them again."}),
		ackLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: metrics.IngestAckLatencySeconds, Help: "Time from receiving a batch to acking its commit.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		siteInUse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.IngestSiteInUseRefusalsTotal, Help: "Agent streams refused because another agent's stream of the site is live."}),
		bufferBehind: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.IngestBufferBehindLedgerTotal, Help: "Handshakes whose agent buffer is older than what the ledger holds from it (a restored copy, a power cut)."}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.IngestStreamRefusalsTotal, Help: "Agent streams refused, by cause: a per-agent limit, or what the agent sent."}, []string{"cause"}),
		unidentified: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metrics.IngestUnidentifiedStreams, Help: "Agent streams open that have not yet sent their hello."}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.IngestPanicsTotal, Help: "Panics recovered in ingest handlers and their goroutines; each ended its stream with Internal."}),
		heartbeatsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.IngestHeartbeatsDroppedTotal, Help: "Agent status rows not stored, by cause."}, []string{"cause"}),
		rejectedGaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.IngestRejectedGapsTotal, Help: "Gaps left out of acked batches because their times are absurd (before 2000, in the future)."}),
		sites: newSiteStreams(),
	}
	if reg != nil {
		reg.MustRegister(m.streams, m.batches, m.samples, m.rejected, m.duplicates, m.setAside, m.nacks, m.ackLatency,
			m.siteInUse, m.bufferBehind, m.refusals, m.unidentified, m.panics, m.heartbeatsDropped, m.rejectedGaps, m.sites)
	}
	return m
}
