package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

func (m metrics) add(name, source string, v float64) {
	m[name] += v
	if source != "" {
		m[name+"/"+source] += v
	}
}

// sources returns the names of the OPC UA sources the metrics describe.
func (m metrics) sources() []string {
	const prefix = "lifeline_agent_source_connected/"
	var names []string
	for k := range m {
		if name, ok := strings.CutPrefix(k, prefix); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// printSources shows each OPC UA source as read or down, and for how long.
func printSources(w io.Writer, m metrics) {
	for i, name := range m.sources() {
		state := "reading"
		if m["lifeline_agent_source_connected/"+name] != 1 {
			state = "NOT READING"
			if d := m["lifeline_agent_source_down_seconds/"+name]; d > 0 {
				state += " for " + durationText(d)
			}
		}
		label := "            "
		if i == 0 {
			label = "  sources   "
		}
		fmt.Fprintf(w, "%s  %s: %s (outages recorded as gaps: %.0f)\n", label, name, state, m["lifeline_agent_source_outages_total/"+name])
	}
}

// drainText says how the backlog leaves: at what rate and when it will be
// gone, or why it is not leaving.
func drainText(m metrics, connected bool) string {
	rate := m["lifeline_agent_drain_rate_samples_per_second"]
	switch {
	case m["lifeline_agent_buffer_batches"] == 0:
		return "nothing to send"
	case !connected:
		return "waiting for the aggregator (ETA unknown)"
	case rate == 0:
		return "stalled: no acks in the last seconds (ETA unknown)"
	}
	return fmt.Sprintf("%s samples/s, ETA %s", countText(rate), durationText(m["lifeline_agent_backlog_eta_seconds"]))
}

// diskText warns when the buffer's disk is low; it is empty otherwise.
func diskText(m metrics) string {
	if m["lifeline_agent_buffer_disk_low"] != 1 {
		return ""
	}
	return fmt.Sprintf("LOW: %s free, under buffer.min_free_bytes; %.0f batches (%s) held in memory, sent from there",
		bytesText(m["lifeline_agent_buffer_disk_free_bytes"]), m["lifeline_agent_buffer_memory_batches"],
		bytesText(m["lifeline_agent_buffer_memory_bytes"]))
}
