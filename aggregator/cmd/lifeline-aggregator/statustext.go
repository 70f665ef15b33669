package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/lifeline-telemetry/lifeline/proto/obs/scrape"
)

// printStatus shows the report for a person: readiness check by check,
// then the sites, the ingest and writer flow and the alarm backlog.
func printStatus(w io.Writer, rep statusReport) {
	state := "READY"
	if !rep.Ready {
		state = "NOT READY"
	}
	fmt.Fprintf(w, "aggregator (metrics %s): %s\n", rep.Metrics, state)
	for _, c := range rep.Checks {
		line := "ok"
		if c.Note != "" {
			line += ": " + c.Note
		}
		if !c.OK {
			line = "FAILED: " + c.Error
		}
		fmt.Fprintf(w, "  %-11s %s\n", c.Name, line)
	}
	fmt.Fprintf(w, "  sites       %s\n", sitesText(rep.Sites))
	s := rep.Streams
	fmt.Fprintf(w, "  streams     %.0f open, %.0f without hello; refused: %s; site in use %.0f; TLS refused: %s\n",
		s.Open, s.Unidentified, countsText(s.Refused), s.SiteInUse, countsText(s.TLSRefused))
	in := rep.Ingest
	fmt.Fprintf(w, "  ingest      %s; %s batches, %s samples since start; ack latency %s avg\n",
		rateText(in.SamplesPerSecond, "samples/s"), scrape.Count(in.Batches), scrape.Count(in.Samples),
		(time.Duration(in.AckLatencyAvg * float64(time.Second))).Round(time.Millisecond))
	fmt.Fprintf(w, "  refusals    %s samples refused as invalid, %s set aside by ClickHouse (rejected_batches), %.0f batches nacked, %s duplicates dropped\n",
		scrape.Count(in.Rejected), scrape.Count(in.SetAside), in.Nacks, scrape.Count(in.Duplicates))
	wr := rep.Writer
	fmt.Fprintf(w, "  writer      %s rows pending; %s; last insert %s; insert errors: %s\n",
		scrape.Count(wr.PendingRows), rateText(wr.RowsPerSecond, "rows/s"), lastInsertText(wr.LastInsert), countsText(wr.Errors))
	a := rep.Alarms
	fmt.Fprintf(w, "  alarms      %s samples waiting for evaluation; raised %.0f, cleared %.0f; %.0f batches replayed from ClickHouse, %.0f write failures\n",
		scrape.Count(a.QueuedSamples), a.Raised, a.Cleared, a.ReplayedBatches, a.WriteFailures)
	if rep.Memory != nil {
		fmt.Fprintf(w, "  memory      %s\n", memoryText(*rep.Memory))
	}
}

// memoryText shows the heap against the limit and what collecting cost,
// with the advice when the limit is what makes it cost.
func memoryText(m memoryState) string {
	const mib = 1 << 20
	limit := "no memory limit"
	if m.LimitBytes > 0 {
		limit = fmt.Sprintf("a %.0f MiB memory limit", m.LimitBytes/mib)
	}
	text := fmt.Sprintf("live heap %.0f MiB, %s; garbage collection %.0f %% of the CPU used (%s)",
		m.LiveHeapBytes/mib, limit, 100*m.GCCPUShare, m.GCCPUShareOver)
	if m.LimitTight {
		text += fmt.Sprintf(": the limit is tight (live heap over %.0f %% of it, collection over %.0f %%), raise memory_limit (docs/scaling.md)",
			100*m.TightLiveOfLimit, 100*m.TightShare)
	}
	return text
}

func sitesText(sites []siteState) string {
	var up, down []string
	for _, s := range sites {
		if s.Connected {
			up = append(up, s.Site)
		} else {
			down = append(down, s.Site)
		}
	}
	text := fmt.Sprintf("%d connected", len(up))
	if len(up) > 0 {
		text += ": " + strings.Join(up, ", ")
	}
	if len(down) > 0 {
		text += "; disconnected since start: " + strings.Join(down, ", ")
	}
	return text
}

// countsText shows a labelled counter's non-zero values, or "none".
func countsText(m map[string]float64) string {
	var parts []string
	for k, v := range m {
		if v > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", k, scrape.Count(v)))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

func rateText(r *float64, unit string) string {
	if r == nil {
		return "rate not measured"
	}
	return scrape.Count(*r) + " " + unit
}

func lastInsertText(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return scrape.Duration(time.Since(*t).Seconds()) + " ago"
}
