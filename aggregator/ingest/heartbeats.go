package ingest

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// StatusSaver stores agent heartbeat rows.
type StatusSaver interface {
	SaveAgentStatus(ctx context.Context, rows []store.AgentStatus) error
}

// Heartbeats gathers agents' status rows and writes them together, so a
// thousand agents beating every ten seconds make one insert, not a hundred
// a second. Each site keeps only its newest status per interval, so one
// site's flood cannot spend the buffer all sites share; a site sending
// more than siteStatusQuota in an interval is counted and logged as
// flooding. Rows beyond maxPending are dropped and
// counted: heartbeats are a view of health, not data that must survive.
type Heartbeats struct {
	saver      StatusSaver
	interval   time.Duration
	maxPending int // rows held at most; beyond, dropped as buffer_full
	logger     *slog.Logger
	dropped    *prometheus.CounterVec

	mu      sync.Mutex
	pending []store.AgentStatus
	// latest is the index in pending of each site's status row of this
	// interval; statuses counts the site's status messages in it.
	latest   map[string]int
	statuses map[string]int
	drops    map[string]int // cause → rows dropped this interval
}

const (
	maxPendingHeartbeats = 100000
	// siteStatusQuota is the most status messages a site sends in an
	// interval before it counts as flooding; agents send one every ten
	// seconds.
	siteStatusQuota = 100
)

// Causes of a dropped heartbeat row, as logged and as the cause label of
// lifeline_ingest_heartbeats_dropped_total.
const (
	dropSuperseded       = "superseded"
	dropSiteRate         = "site_rate"
	dropBufferFull       = "buffer_full"
	dropStoreUnavailable = "store_unavailable"
)

// NewHeartbeats returns a recorder flushing every interval, counting its
// drops in m (nil for metrics no one reads).
func NewHeartbeats(saver StatusSaver, interval time.Duration, m *Metrics, logger *slog.Logger) *Heartbeats {
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Heartbeats{saver: saver, interval: interval, maxPending: maxPendingHeartbeats, logger: logger, dropped: m.heartbeatsDropped}
}

// Record queues one row. A status row replaces the site's earlier one of
// the interval; connection events are all kept.
func (h *Heartbeats) Record(row store.AgentStatus) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.latest == nil {
		h.latest, h.statuses, h.drops = map[string]int{}, map[string]int{}, map[string]int{}
	}
	if row.Status != nil {
		h.statuses[row.SiteID]++
		if i, ok := h.latest[row.SiteID]; ok {
			h.pending[i] = row
			cause := dropSuperseded
			if h.statuses[row.SiteID] > siteStatusQuota {
				cause = dropSiteRate
			}
			h.drop(cause, 1)
			return
		}
	}
	if len(h.pending) >= h.maxPending {
		h.drop(dropBufferFull, 1)
		return
	}
	if row.Status != nil {
		h.latest[row.SiteID] = len(h.pending)
	}
	h.pending = append(h.pending, row)
}

// drop counts n rows dropped for cause; the caller holds mu.
func (h *Heartbeats) drop(cause string, n int) {
	h.dropped.WithLabelValues(cause).Add(float64(n))
	h.drops[cause] += n
}

// Run flushes until ctx is done, then once more.
func (h *Heartbeats) Run(ctx context.Context) {
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			h.flush(flush)
			cancel()
			return
		case <-t.C:
			h.flush(ctx)
		}
	}
}

func (h *Heartbeats) flush(ctx context.Context) {
	h.mu.Lock()
	rows, drops, flooding := h.pending, h.drops, h.flooding()
	h.pending, h.latest, h.statuses, h.drops = nil, map[string]int{}, map[string]int{}, map[string]int{}
	h.mu.Unlock()
	h.report(drops, flooding)
	if len(rows) == 0 {
		return
	}
	if err := h.saver.SaveAgentStatus(ctx, rows); err != nil {
		h.logger.Warn("save agent heartbeats; keeping them for the next attempt", "rows", len(rows), "err", err)
		h.mu.Lock()
		h.pending = append(rows, h.pending...)
		h.latest = map[string]int{} // indexes moved; later statuses append
		if over := len(h.pending) - h.maxPending; over > 0 {
			h.pending = h.pending[over:]
			h.drop(dropStoreUnavailable, over)
		}
		h.mu.Unlock()
	}
}

// flooding returns the sites over their status quota; the caller holds mu.
func (h *Heartbeats) flooding() map[string]int {
	var over map[string]int
	for site, n := range h.statuses {
		if n > siteStatusQuota {
			if over == nil {
				over = map[string]int{}
			}
			over[site] = n
		}
	}
	return over
}

// report logs one line per cause of the interval's drops, naming the
// sites that flooded; superseded statuses are normal and not logged.
func (h *Heartbeats) report(drops, flooding map[string]int) {
	for site, n := range flooding {
		h.logger.Warn("agent floods status messages; keeping its newest only", "site", site, "statuses", n, "quota", siteStatusQuota)
	}
	if n := drops[dropBufferFull]; n > 0 {
		h.logger.Warn("agent heartbeats dropped: heartbeat buffer full", "cause", dropBufferFull, "rows", n)
	}
	if n := drops[dropStoreUnavailable]; n > 0 {
		h.logger.Warn("agent heartbeats dropped while ClickHouse was unavailable", "cause", dropStoreUnavailable, "rows", n)
	}
}
