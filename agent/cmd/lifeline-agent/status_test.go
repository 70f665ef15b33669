package main

import (
	"bytes"
	"strings"
	"testing"
)

// status says what is so: a backlog with no acks is stalled, not draining
// at a rate; a source that is not read says so and for how long; a low
// disk is shown with what memory holds.
func TestPrintStatusTellsTheTruth(t *testing.T) {
	m := metrics{
		"lifeline_agent_uplink_connected":              1,
		"lifeline_agent_uplink_reconnects_total":       2,
		"lifeline_agent_buffer_batches":                40,
		"lifeline_agent_drain_rate_samples_per_second": 0,
		"lifeline_agent_backlog_eta_seconds":           0,
		"lifeline_agent_buffer_disk_low":               1,
		"lifeline_agent_buffer_disk_free_bytes":        100 << 20,
		"lifeline_agent_buffer_memory_batches":         3,
		"lifeline_agent_buffer_memory_bytes":           300 << 10,
	}
	m.Add("lifeline_agent_source_connected", "dcs", 0)
	m.Add("lifeline_agent_source_down_seconds", "dcs", 12)
	m.Add("lifeline_agent_source_outages_total", "dcs", 1)
	m.Add("lifeline_agent_source_connected", "gds", 1)
	var out bytes.Buffer
	printStatus(&out, "S1", "127.0.0.1:9464", m)
	got := out.String()
	for _, want := range []string{
		"connected (reconnects 2)",
		"dcs: NOT READING for 12s (outages recorded as gaps: 1)",
		"gds: reading",
		"drain       stalled",
		"disk        LOW: 100.0 MiB free",
		"3 batches (300.0 KiB) held in memory",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("status lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "sending backlog") {
		t.Errorf("status claims a backlog is being sent:\n%s", got)
	}
}

// status names the aggregator the link is on and says when it is not the
// site's preferred one.
func TestPrintStatusNamesTheAggregator(t *testing.T) {
	m := metrics{
		"lifeline_agent_uplink_connected":       1,
		"lifeline_agent_uplink_on_preferred":    0,
		"lifeline_agent_uplink_failovers_total": 3,
	}
	m.Add("lifeline_agent_uplink_aggregator", "10.0.0.2:7400", 1)
	var out bytes.Buffer
	printStatus(&out, "S1", "127.0.0.1:9464", m)
	if want := "connected to 10.0.0.2:7400, not the preferred one, failovers 3 (reconnects 0)"; !strings.Contains(out.String(), want) {
		t.Errorf("status lacks %q:\n%s", want, out.String())
	}
}
