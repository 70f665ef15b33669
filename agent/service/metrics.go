package service

import (
	"github.com/prometheus/client_golang/prometheus"
)

// registerMetrics exposes the pipeline's counters. They are read from the
// components' own counters at scrape time, so no hot path touches a metric.
func (a *Agent) registerMetrics(p *pipeline) {
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
	a.registry.MustRegister(
		prometheus.NewGoCollector(),
		prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}),
		counter("lifeline_agent_samples_read_total", "Samples received from OPC UA servers.",
			func() float64 { return float64(p.batcher.Received()) }),
		counter("lifeline_agent_samples_buffered_total", "Samples written to the on-disk buffer.",
			func() float64 { return float64(p.batcher.Stored()) }),
		counter("lifeline_agent_samples_acked_total", "Samples the aggregator acknowledged as committed.",
			func() float64 { return float64(p.uplink.Stats().AckedSamples) }),
		counter("lifeline_agent_samples_rejected_total", "Samples the aggregator refused as invalid.",
			func() float64 { return float64(p.uplink.Stats().Rejected) }),
		counter("lifeline_agent_uplink_reconnects_total", "Times the aggregator link was re-established.",
			func() float64 { return float64(p.uplink.Stats().Reconnects) }),
		gauge("lifeline_agent_uplink_connected", "1 while a stream to the aggregator is open.",
			func() float64 { return boolf(p.uplink.Stats().Connected) }),
		gauge("lifeline_agent_uplink_in_flight_batches", "Batches sent and awaiting an ack.",
			func() float64 { return float64(p.uplink.Stats().InFlight) }),
		gauge("lifeline_agent_buffer_batches", "Batches in the on-disk buffer.",
			func() float64 { return float64(p.queue.Stats().Entries) }),
		gauge("lifeline_agent_buffer_bytes", "Bytes of batches in the on-disk buffer.",
			func() float64 { return float64(p.queue.Stats().Bytes) }),
		gauge("lifeline_agent_backlog_samples", "Samples waiting in the buffer (estimated from the average sample size).",
			func() float64 { return float64(a.backlog(p).Samples) }),
		gauge("lifeline_agent_backlog_oldest_age_seconds", "Source age of the oldest buffered sample.",
			func() float64 { return a.backlog(p).OldestAge.Seconds() }),
		gauge("lifeline_agent_drain_rate_samples_per_second", "Samples acked per second over the last 30 s.",
			func() float64 { return a.backlog(p).Rate }),
		gauge("lifeline_agent_backlog_eta_seconds", "Time to send the backlog at the current drain rate (0 if unknown).",
			func() float64 { return a.backlog(p).ETA.Seconds() }),
		gauge("lifeline_agent_uplink_draining", "1 while a backlog from before the connection is being sent.",
			func() float64 { return boolf(p.uplink.Stats().Draining) }),
		counter("lifeline_agent_samples_duplicate_total", "Values an OPC UA server sent again after a resubscribe that were already buffered or stored.",
			func() float64 { return float64(p.batcher.Repeats() + p.uplink.Stats().Duplicates) }),
		counter("lifeline_agent_samples_dropped_total", "Samples dropped because the buffer reached max_bytes, or the disk was full and memory_bytes was reached (each recorded as a gap).",
			func() float64 { return float64(p.batcher.DroppedSamples()) }),
	)
}
