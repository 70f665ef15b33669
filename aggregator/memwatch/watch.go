package memwatch

import (
	"context"
	"log/slog"
	"math"
	"time"
)

// Watcher logs a warning when the memory limit was tight over a window,
// at most once an hour while it stays so: the aggregator then spends on
// collecting what it could spend on ingest, and only its operator can
// give it the memory.
type Watcher struct {
	every, repeat time.Duration
	read          func() Reading
	logger        *slog.Logger
}

// NewWatcher returns a watcher of this process over one-minute windows.
func NewWatcher(logger *slog.Logger) *Watcher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Watcher{every: time.Minute, repeat: time.Hour, read: Read, logger: logger}
}

// Run watches until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.every)
	defer t.Stop()
	prev := w.read()
	var warned time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur := w.read()
		p, ok := Between(prev, cur)
		prev = cur
		if !ok || !p.Tight() || (!warned.IsZero() && time.Since(warned) < w.repeat) {
			continue
		}
		warned = time.Now()
		w.logger.Warn("memory limit tight: garbage collection takes a large share of the CPU; raise memory_limit (docs/scaling.md)",
			"gc_cpu_share", math.Round(p.GCShare*100)/100, "live_heap_mib", mib(p.LiveBytes),
			"memory_limit_mib", mib(p.LimitBytes), "window", w.every)
	}
}

func mib(b float64) int64 { return int64(b / (1 << 20)) }
