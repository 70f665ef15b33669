package service

import (
	"context"
	"log/slog"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// runRetention applies the retention at start and then daily until ctx
// ends.
func runRetention(ctx context.Context, st *store.Store, r store.Retention, logger *slog.Logger) {
	for {
		if err := st.ApplyRetention(ctx, r); err != nil && ctx.Err() == nil {
			logger.Warn("apply retention", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(24 * time.Hour):
		}
	}
}
