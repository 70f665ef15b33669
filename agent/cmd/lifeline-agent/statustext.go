package main

import (
	"fmt"
	"io"

	"github.com/lifeline-telemetry/lifeline/agent/service"
	"github.com/lifeline-telemetry/lifeline/proto/obs/scrape"
)

// printSources shows each OPC UA source as read or down, and for how long.
func printSources(w io.Writer, m metrics) {
	for i, name := range m.Labels(service.MetricSourceConnected) {
		state := "reading"
		if m[service.MetricSourceConnected+"/"+name] != 1 {
			state = "NOT READING"
			if d := m[service.MetricSourceDownSeconds+"/"+name]; d > 0 {
				state += " for " + scrape.Duration(d)
			}
		}
		label := "            "
		if i == 0 {
			label = "  sources   "
		}
		fmt.Fprintf(w, "%s  %s: %s (outages recorded as gaps: %.0f)\n", label, name, state, m[service.MetricSourceOutagesTotal+"/"+name])
	}
}

// drainText says how the backlog leaves: at what rate and when it will be
// gone, or why it is not leaving.
func drainText(m metrics, connected bool) string {
	rate := m[service.MetricDrainRateSamplesPerSecond]
	switch {
	case m[service.MetricBufferBatches] == 0:
		return "nothing to send"
	case !connected:
		return "waiting for the aggregator (ETA unknown)"
	case rate == 0:
		return "stalled: no acks in the last seconds (ETA unknown)"
	}
	return fmt.Sprintf("%s samples/s, ETA %s", scrape.Count(rate), scrape.Duration(m[service.MetricBacklogETASeconds]))
}

// diskText warns when the buffer's disk is low; it is empty otherwise.
func diskText(m metrics) string {
	if m[service.MetricBufferDiskLow] != 1 {
		return ""
	}
	return fmt.Sprintf("LOW: %s free, under buffer.min_free_bytes; %.0f batches (%s) held in memory, sent from there",
		scrape.Bytes(m[service.MetricBufferDiskFreeBytes]), m[service.MetricBufferMemoryBatches],
		scrape.Bytes(m[service.MetricBufferMemoryBytes]))
}

// aggregatorText names the aggregator the link is on (or was on last),
// and whether it is the one this site prefers; empty before any link.
func aggregatorText(m metrics, connected bool) string {
	names := m.Labels(service.MetricUplinkAggregator)
	if len(names) == 0 {
		return ""
	}
	at := " to "
	if !connected {
		at = ", last to "
	}
	text := at + names[0]
	if connected && m[service.MetricUplinkOnPreferred] != 1 {
		text += ", not the preferred one"
	}
	if n := m[service.MetricUplinkFailoversTotal]; n > 0 {
		text += fmt.Sprintf(", failovers %.0f", n)
	}
	return text
}
