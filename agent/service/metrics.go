package service

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The agent's metric names, besides Go's and the process's own (go_*,
// process_*). docs/metrics.md describes each; a test holds the two together.
const (
	MetricSamplesReadTotal          = "lifeline_agent_samples_read_total"
	MetricSamplesBufferedTotal      = "lifeline_agent_samples_buffered_total"
	MetricSamplesAckedTotal         = "lifeline_agent_samples_acked_total"
	MetricSamplesRejectedTotal      = "lifeline_agent_samples_rejected_total"
	MetricUplinkReconnectsTotal     = "lifeline_agent_uplink_reconnects_total"
	MetricUplinkConnected           = "lifeline_agent_uplink_connected"
	MetricUplinkInFlightBatches     = "lifeline_agent_uplink_in_flight_batches"
	MetricBufferBatches             = "lifeline_agent_buffer_batches"
	MetricBufferBytes               = "lifeline_agent_buffer_bytes"
	MetricBacklogSamples            = "lifeline_agent_backlog_samples"
	MetricBacklogOldestAgeSeconds   = "lifeline_agent_backlog_oldest_age_seconds"
	MetricDrainRateSamplesPerSecond = "lifeline_agent_drain_rate_samples_per_second"
	MetricBacklogETASeconds         = "lifeline_agent_backlog_eta_seconds"
	MetricUplinkDraining            = "lifeline_agent_uplink_draining"
	MetricSamplesDuplicateTotal     = "lifeline_agent_samples_duplicate_total"
	MetricSamplesDroppedTotal       = "lifeline_agent_samples_dropped_total"
	MetricBatcherBlockedSeconds     = "lifeline_agent_batcher_blocked_seconds_total"
	MetricSamplesSetAsideTotal      = "lifeline_agent_samples_set_aside_total"
	MetricUplinkNacksTotal          = "lifeline_agent_uplink_nacks_total"
	MetricUplinkFailoversTotal      = "lifeline_agent_uplink_failovers_total"
	MetricUplinkOnPreferred         = "lifeline_agent_uplink_on_preferred"
	MetricUplinkAggregator          = "lifeline_agent_uplink_aggregator"
	MetricBufferBehindLedgerTotal   = "lifeline_agent_buffer_behind_ledger_total"
	MetricBufferDiskLow             = "lifeline_agent_buffer_disk_low"
	MetricBufferDiskFreeBytes       = "lifeline_agent_buffer_disk_free_bytes"
	MetricBufferMemoryBatches       = "lifeline_agent_buffer_memory_batches"
	MetricBufferMemoryBytes         = "lifeline_agent_buffer_memory_bytes"
	MetricSourceConnected           = "lifeline_agent_source_connected"
	MetricSourceDownSeconds         = "lifeline_agent_source_down_seconds"
	MetricSourceOutagesTotal        = "lifeline_agent_source_outages_total"
	MetricSourceHistoryReadTotal    = "lifeline_agent_source_history_read_total"
	MetricSourceConditionEvents     = "lifeline_agent_source_condition_events_total"
	MetricLinkCertNotAfterSeconds   = "lifeline_agent_link_cert_not_after_seconds"
	MetricSourceSessionsTotal       = "lifeline_agent_source_sessions_total"
	MetricSourceSubscriptionsTotal  = "lifeline_agent_source_subscriptions_created_total"
	MetricSourceMonitoredItems      = "lifeline_agent_source_monitored_items"
	MetricConfigReloadTotal         = "lifeline_agent_config_reload_total"
	MetricConfigLastReloadSeconds   = "lifeline_agent_config_last_reload_success_timestamp_seconds"
)

// registerMetrics exposes the pipeline's counters. They are read from the
// components' own counters at scrape time, so no hot path touches a metric.
func (a *Agent) registerMetrics(reg prometheus.Registerer, p *pipeline) {
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	boolf := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	reg.MustRegister(
		prometheus.NewGoCollector(),
		prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}),
		counter(MetricSamplesReadTotal, "Samples received from OPC UA servers.",
			func() float64 { return float64(p.batcher.Received()) }),
		counter(MetricSamplesBufferedTotal, "Samples written to the on-disk buffer.",
			func() float64 { return float64(p.batcher.Stored()) }),
		counter(MetricSamplesAckedTotal, "Samples the aggregator acknowledged as committed.",
			func() float64 { return float64(p.uplink.Stats().AckedSamples) }),
		counter(MetricSamplesRejectedTotal, "Samples the aggregator refused as invalid.",
			func() float64 { return float64(p.uplink.Stats().Rejected) }),
		counter(MetricSamplesSetAsideTotal, "Samples ClickHouse refused for good; the aggregator keeps them in rejected_batches.",
			func() float64 { return float64(p.uplink.Stats().SetAside) }),
		counter(MetricUplinkNacksTotal, "Batches the aggregator could not commit; kept and sent again.",
			func() float64 { return float64(p.uplink.Stats().Nacks) }),
		counter(MetricUplinkReconnectsTotal, "Times the aggregator link was re-established.",
			func() float64 { return float64(p.uplink.Stats().Reconnects) }),
		counter(MetricBufferBehindLedgerTotal, "Handshakes where the aggregator held newer batches of this buffer than the buffer knew of (a restored copy, a power cut).",
			func() float64 { return float64(p.uplink.Stats().BehindLedger) }),
		counter(MetricUplinkFailoversTotal, "Links established on another aggregator than the link before.",
			func() float64 { return float64(p.uplink.Stats().Failovers) }),
		gauge(MetricUplinkOnPreferred, "1 while the link is on the aggregator this site's hash prefers.",
			func() float64 {
				s := p.uplink.Stats()
				return boolf(s.Connected && s.Aggregator != "" && s.Aggregator == s.Preferred)
			}),
		aggregatorInfo{p: p},
		gauge(MetricUplinkConnected, "1 while a stream to the aggregator is open.",
			func() float64 { return boolf(p.uplink.Stats().Connected) }),
		gauge(MetricUplinkInFlightBatches, "Batches sent and awaiting an ack.",
			func() float64 { return float64(p.uplink.Stats().InFlight) }),
		gauge(MetricBufferBatches, "Batches in the on-disk buffer.",
			func() float64 { return float64(p.queue.Stats().Entries) }),
		gauge(MetricBufferBytes, "Bytes of batches in the on-disk buffer.",
			func() float64 { return float64(p.queue.Stats().Bytes) }),
		gauge(MetricBacklogSamples, "Samples waiting in the buffer (estimated from the average sample size).",
			func() float64 { return float64(a.backlog(p).Samples) }),
		gauge(MetricBacklogOldestAgeSeconds, "Source age of the oldest buffered sample.",
			func() float64 { return a.backlog(p).OldestAge.Seconds() }),
		gauge(MetricDrainRateSamplesPerSecond, "Samples acked per second over the last 30 s.",
			func() float64 { return a.backlog(p).Rate }),
		gauge(MetricBacklogETASeconds, "Time to send the backlog at the current drain rate (0 if unknown).",
			func() float64 { return a.backlog(p).ETA.Seconds() }),
		gauge(MetricUplinkDraining, "1 while a backlog from before the connection is being sent.",
			func() float64 { return boolf(p.uplink.Stats().Draining) }),
		counter(MetricSamplesDuplicateTotal, "Values an OPC UA server sent again after a resubscribe, or read back from its history again, that were already buffered or stored.",
			func() float64 { return float64(p.batcher.Repeats() + p.uplink.Stats().Duplicates) }),
		counter(MetricSamplesDroppedTotal, "Samples dropped because the buffer reached max_bytes, or the disk was full and memory_bytes was reached (each recorded as a gap).",
			func() float64 { return float64(p.batcher.DroppedSamples()) }),
		counter(MetricBatcherBlockedSeconds, "Time the OPC UA readers waited because samples waiting for the buffer reached their memory bound (a disk or CPU slower than the readers).",
			func() float64 { return p.batcher.Blocked().Seconds() }),
		gauge(MetricLinkCertNotAfterSeconds, "When the agent's link certificate expires (Unix seconds; 0 without TLS).",
			func() float64 { return float64(a.certNotAfter / 1e9) }),
		a.reloads.results,
		a.reloads.lastSuccess,
	)
}
