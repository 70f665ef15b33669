package service

import (
	"context"
	"sync"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/notify"
	"github.com/lifeline-telemetry/lifeline/aggregator/owner"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// startNotify starts the alarm notifier when notify is enabled. Like
// alarm evaluation it runs on its own context, so the alarms of the last
// commits are still notified during shutdown. The returned stop cancels
// and waits, and may be called more than once.
//
// Without owned_parks the notifier follows site ownership: it notifies
// about the sites whose alarms this aggregator evaluates, so several
// aggregators on one database each send a notification once with no
// configuration. owned_parks keeps the older hand-partitioning by park.
func (a *Aggregator) startNotify(st *store.Store, owners *owner.Registry) (stop func()) {
	cfg := a.cfg.Notify
	if !cfg.Enabled {
		return func() {}
	}
	if cfg.Name == "" {
		cfg.Name = owners.ID()
	}
	opts := notify.Options{Shelves: storeAcks{st}}
	if len(cfg.OwnedParks) == 0 {
		opts.Owners = owners
	}
	logger := a.logger.With("component", "notify", "name", cfg.Name)
	n := notify.New(cfg, st, st, storeAcks{st}, notify.NewSenders(cfg, nil), opts, notify.NewMetrics(a.registry), logger)
	ctx, cancel := context.WithCancel(context.Background())
	var running sync.WaitGroup
	running.Go(func() {
		if err := n.Run(ctx); err != nil {
			logger.Error("notifications stopped", "err", err)
		}
	})
	return sync.OnceFunc(func() {
		cancel()
		running.Wait()
	})
}

// storeAcks reads acknowledgements and shelving from alarm_actions.
type storeAcks struct{ st *store.Store }

func (s storeAcks) Acknowledged(ctx context.Context, keys []store.AlarmKey) (map[store.AlarmKey]bool, error) {
	return s.st.Acknowledged(ctx, keys)
}

func (s storeAcks) Shelved(ctx context.Context, keys []store.AlarmKey, at time.Time) (map[store.AlarmKey]bool, error) {
	return s.st.AlarmsShelved(ctx, keys, at.UnixNano())
}
