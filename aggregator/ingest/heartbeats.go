package ingest

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// StatusSaver stores agent heartbeat rows.
type StatusSaver interface {
	SaveAgentStatus(ctx context.Context, rows []store.AgentStatus) error
}

// Heartbeats gathers agents' status rows and writes them together, so a
// thousand agents beating every ten seconds make one insert, not a hundred
// a second. Rows beyond maxPending are dropped and counted: heartbeats are
// a view of health, not data that must survive.
type Heartbeats struct {
	saver    StatusSaver
	interval time.Duration
	logger   *slog.Logger

	mu      sync.Mutex
	pending []store.AgentStatus
	dropped int
}

const maxPendingHeartbeats = 100000

// NewHeartbeats returns a recorder flushing every interval.
func NewHeartbeats(saver StatusSaver, interval time.Duration, logger *slog.Logger) *Heartbeats {
	return &Heartbeats{saver: saver, interval: interval, logger: logger}
}

// Record queues one row.
func (h *Heartbeats) Record(row store.AgentStatus) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.pending) >= maxPendingHeartbeats {
		h.dropped++
		return
	}
	h.pending = append(h.pending, row)
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
	rows, dropped := h.pending, h.dropped
	h.pending, h.dropped = nil, 0
	h.mu.Unlock()
	if dropped > 0 {
		h.logger.Warn("agent heartbeats dropped while ClickHouse was unavailable", "rows", dropped)
	}
	if len(rows) == 0 {
		return
	}
	if err := h.saver.SaveAgentStatus(ctx, rows); err != nil {
		h.logger.Warn("save agent heartbeats; keeping them for the next attempt", "rows", len(rows), "err", err)
		h.mu.Lock()
		h.pending = append(rows, h.pending...)
		if over := len(h.pending) - maxPendingHeartbeats; over > 0 {
			h.pending = h.pending[over:]
			h.dropped += over
		}
		h.mu.Unlock()
	}
}
