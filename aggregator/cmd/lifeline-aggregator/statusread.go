package main

import (
	"context"
	"fmt"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/memwatch"
	"github.com/lifeline-telemetry/lifeline/aggregator/metrics"
	"github.com/lifeline-telemetry/lifeline/proto/obs"
	"github.com/lifeline-telemetry/lifeline/proto/obs/scrape"
)

// statusReport is what `lifeline-aggregator status` shows, and its --json.
type statusReport struct {
	Metrics string            `json:"metrics"`
	Ready   bool              `json:"ready"`
	Checks  []obs.CheckResult `json:"checks"`
	Sites   []siteState       `json:"sites"`
	Streams streamState       `json:"streams"`
	Ingest  ingestState       `json:"ingest"`
	Writer  writerState       `json:"writer"`
	Alarms  alarmState        `json:"alarms"`
	Memory  *memoryState      `json:"memory,omitempty"`
}

type siteState struct {
	Site      string `json:"site"`
	Connected bool   `json:"connected"`
}

type streamState struct {
	Open         float64            `json:"open"`
	Unidentified float64            `json:"unidentified"`
	Refused      map[string]float64 `json:"refused_by_cause"`
	SiteInUse    float64            `json:"site_in_use_refusals"`
	TLSRefused   map[string]float64 `json:"tls_refused_by_cause"`
}

type ingestState struct {
	Batches          float64  `json:"batches"`
	Samples          float64  `json:"samples"`
	SamplesPerSecond *float64 `json:"samples_per_second,omitempty"`
	Rejected         float64  `json:"rejected_samples"`
	Duplicates       float64  `json:"duplicate_samples"`
	SetAside         float64  `json:"set_aside_samples"`
	Nacks            float64  `json:"nacks"`
	AckLatencyAvg    float64  `json:"ack_latency_avg_seconds"`
}

type writerState struct {
	PendingRows   float64            `json:"pending_rows"`
	Inserts       float64            `json:"inserts"`
	Rows          float64            `json:"rows"`
	RowsPerSecond *float64           `json:"rows_per_second,omitempty"`
	LastInsert    *time.Time         `json:"last_insert,omitempty"`
	Errors        map[string]float64 `json:"insert_errors_by_class"`
}

type alarmState struct {
	QueuedSamples   float64 `json:"queued_samples"`
	Raised          float64 `json:"raised"`
	Cleared         float64 `json:"cleared"`
	DroppedBatches  float64 `json:"dropped_batches"`
	ReplayedBatches float64 `json:"replayed_batches"`
	WriteFailures   float64 `json:"write_failures"`
}

// memoryState is the Go heap against the memory limit, and the share of
// the CPU the aggregator used that went to collecting garbage (memwatch).
type memoryState struct {
	LiveHeapBytes    float64 `json:"live_heap_bytes"`
	LimitBytes       float64 `json:"memory_limit_bytes"` // 0: none
	GCCPUShare       float64 `json:"gc_cpu_share"`
	GCCPUShareOver   string  `json:"gc_cpu_share_over"` // "interval" or "since start"
	LimitTight       bool    `json:"memory_limit_tight"`
	TightShare       float64 `json:"tight_gc_cpu_share"`
	TightLiveOfLimit float64 `json:"tight_live_heap_of_limit"`
}

// memoryOf judges the memory limit from the scrapes: over the interval
// between first and last when there was one and the runtime accounted CPU
// in it (it does at each collection's end), else over the aggregator's life.
func memoryOf(first, last scrape.Values, interval bool) *memoryState {
	cur, ok := memwatch.FromMetrics(last)
	if !ok {
		return nil
	}
	if prev, read := memwatch.FromMetrics(first); interval && read {
		if p, ok := memwatch.Between(prev, cur); ok {
			return newMemoryState(p, "interval")
		}
	}
	if p, ok := memwatch.SinceStart(cur); ok {
		return newMemoryState(p, "since start")
	}
	return nil
}

func newMemoryState(p memwatch.Pressure, over string) *memoryState {
	return &memoryState{LiveHeapBytes: p.LiveBytes, LimitBytes: p.LimitBytes, GCCPUShare: p.GCShare, GCCPUShareOver: over,
		LimitTight: p.Tight(), TightShare: memwatch.TightShare, TightLiveOfLimit: memwatch.TightLive}
}

// readStatus reads the aggregator's readiness and metrics at addr; with
// interval > 0 it reads the metrics again after interval for the rates.
func readStatus(ctx context.Context, addr string, interval time.Duration) (statusReport, error) {
	base := "http://" + addr
	first, err := scrape.Get(ctx, base+"/metrics", "site", "cause", "class")
	if err != nil {
		return statusReport{}, fmt.Errorf("read aggregator status: %w", err)
	}
	rep := statusReport{Metrics: addr}
	if ready, err := scrape.Ready(ctx, base+"/readyz"); err != nil {
		rep.Checks = []obs.CheckResult{{Name: "readyz", Error: err.Error()}}
	} else {
		rep.Ready, rep.Checks = ready.Status == "ok", ready.Checks
	}
	m := first
	var elapsed time.Duration
	if interval > 0 {
		start := time.Now()
		select {
		case <-ctx.Done():
			return statusReport{}, ctx.Err()
		case <-time.After(interval):
		}
		if m, err = scrape.Get(ctx, base+"/metrics", "site", "cause", "class"); err != nil {
			return statusReport{}, fmt.Errorf("read aggregator status: %w", err)
		}
		elapsed = time.Since(start)
	}
	fill(&rep, m)
	rep.Memory = memoryOf(first, m, elapsed > 0)
	if elapsed > 0 {
		rate := func(name string) *float64 {
			r := max(m[name]-first[name], 0) / elapsed.Seconds()
			return &r
		}
		rep.Ingest.SamplesPerSecond = rate(metrics.IngestSamplesTotal)
		rep.Writer.RowsPerSecond = rate(metrics.WriterRowsTotal)
	}
	return rep, nil
}

// fill copies the metrics into the report.
func fill(rep *statusReport, m scrape.Values) {
	for _, site := range m.Labels(metrics.IngestSiteConnected) {
		rep.Sites = append(rep.Sites, siteState{Site: site, Connected: m[metrics.IngestSiteConnected+"/"+site] == 1})
	}
	rep.Streams = streamState{
		Open: m[metrics.IngestStreams], Unidentified: m[metrics.IngestUnidentifiedStreams],
		Refused: byLabel(m, metrics.IngestStreamRefusalsTotal), SiteInUse: m[metrics.IngestSiteInUseRefusalsTotal],
		TLSRefused: byLabel(m, metrics.IngestTLSRefusedTotal),
	}
	rep.Ingest = ingestState{
		Batches: m[metrics.IngestBatchesTotal], Samples: m[metrics.IngestSamplesTotal],
		Rejected: m[metrics.IngestRejectedSamplesTotal], Duplicates: m[metrics.IngestDuplicateSamplesTotal],
		SetAside: m[metrics.IngestSetAsideSamplesTotal], Nacks: m[metrics.IngestNacksTotal],
	}
	if n := m[metrics.IngestAckLatencySeconds+"_count"]; n > 0 {
		rep.Ingest.AckLatencyAvg = m[metrics.IngestAckLatencySeconds+"_sum"] / n
	}
	rep.Writer = writerState{
		PendingRows: m[metrics.WriterPendingRows], Inserts: m[metrics.WriterInsertsTotal], Rows: m[metrics.WriterRowsTotal],
		Errors: byLabel(m, metrics.WriterInsertErrorsTotal),
	}
	if s := m[metrics.WriterLastInsertSeconds]; s > 0 {
		t := time.Unix(0, int64(s*1e9)).UTC()
		rep.Writer.LastInsert = &t
	}
	rep.Alarms = alarmState{
		QueuedSamples: m[metrics.AlarmQueuedSamples], Raised: m[metrics.AlarmRaisedTotal], Cleared: m[metrics.AlarmClearedTotal],
		DroppedBatches: m[metrics.AlarmDroppedBatchesTotal], ReplayedBatches: m[metrics.AlarmReplayedBatchesTotal],
		WriteFailures: m[metrics.AlarmWriteFailuresTotal],
	}
}

// byLabel returns name's series by the value of the label it was split by.
func byLabel(m scrape.Values, name string) map[string]float64 {
	out := map[string]float64{}
	for _, v := range m.Labels(name) {
		out[v] = m[name+"/"+v]
	}
	return out
}
