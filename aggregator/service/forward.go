package service

import (
	"context"
	"sync"

	"github.com/lifeline-telemetry/lifeline/aggregator/forward"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// startForward runs the provincial forwarder beside ingest when forward
// targets are configured. A forwarder that cannot start (a template
// missing) is logged, not fatal: agents' data must still be stored. The
// returned stop cancels and waits.
func (a *Aggregator) startForward(ctx context.Context, st *store.Store) (stop func()) {
	if len(a.cfg.Forward.Targets) == 0 {
		return func() {}
	}
	logger := a.logger.With("component", "forward")
	fw := forward.New(a.cfg.Forward, st, nil, a.registry, logger)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := fw.Run(ctx); err != nil {
			logger.Error("forwarder stopped", "err", err)
		}
	})
	return sync.OnceFunc(func() {
		cancel()
		wg.Wait()
	})
}
