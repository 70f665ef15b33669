package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// Store is what the forwarder reads and records in ClickHouse.
type Store interface {
	LatestValues(ctx context.Context, fromNs, toNs int64) ([]store.LatestValue, error)
	AlarmRowsEvaluated(ctx context.Context, from, to time.Time, after *store.AlarmRowPos, limit int) ([]store.AlarmRow, error)
	BaseData(ctx context.Context) (store.Base, error)
	ForwardCursors(ctx context.Context, target string) (map[string]store.ForwardCursor, error)
	SaveForwardCursor(ctx context.Context, c store.ForwardCursor) error
	SaveForwardGaps(ctx context.Context, gaps []store.ForwardGap) error
	ForwardCodes(ctx context.Context, target string) ([]store.ForwardCode, error)
	SaveForwardedAlarms(ctx context.Context, sent []store.ForwardedAlarm) error
	ForwardedAlarmKeys(ctx context.Context, target string, fromNs, toNs int64) (map[string]bool, error)
	ForwardGaps(ctx context.Context, target string) ([]store.ForwardGap, error)
}

// Dialer makes a target's transport and cipher without connecting. nil
// means DefaultDialer.
type Dialer func(t Target, logger *slog.Logger) (Transport, Encrypter, error)

// Forwarder sends every configured target its messages.
type Forwarder struct {
	cfg     Config
	st      Store
	dial    Dialer
	metrics *metrics
	logger  *slog.Logger
}

// New returns a forwarder; it does no I/O. reg may be nil.
func New(cfg Config, st Store, dial Dialer, reg prometheus.Registerer, logger *slog.Logger) *Forwarder {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if dial == nil {
		dial = DefaultDialer
	}
	return &Forwarder{cfg: cfg, st: st, dial: dial, metrics: newMetrics(reg), logger: logger}
}

// Run forwards until ctx is done. A target whose transport or templates
// cannot be set up stops Run with an error; a platform that is down does
// not: its target keeps its cursor and catches up later.
func (f *Forwarder) Run(ctx context.Context) error {
	if err := f.cfg.Validate(); err != nil {
		return err
	}
	runners := make([]*runner, 0, len(f.cfg.Targets))
	defer func() {
		for _, r := range runners {
			r.close()
		}
	}()
	for _, t := range f.cfg.Targets {
		r, err := newRunner(t.withDefaults(), f.st, f.dial, f.metrics, f.logger.With("target", t.Name))
		if err != nil {
			return err
		}
		runners = append(runners, r)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(runners))
	for i, r := range runners {
		wg.Go(func() {
			errs[i] = r.run(ctx)
			if errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// DefaultDialer makes the transport named by t.Transport and t's cipher.
func DefaultDialer(t Target, logger *slog.Logger) (Transport, Encrypter, error) {
	var tr Transport
	switch t.Transport {
	case "https":
		h, err := NewHTTPS(t)
		if err != nil {
			return nil, nil, err
		}
		tr = h
	case "mqtt":
		m, err := newMQTT(t, logger)
		if err != nil {
			return nil, nil, err
		}
		tr = m
	default:
		return nil, nil, fmt.Errorf("target %s: transport %q: want https or mqtt", t.Name, t.Transport)
	}
	enc, err := newEncrypter(t)
	if err != nil {
		tr.Close()
		return nil, nil, err
	}
	return tr, enc, nil
}
