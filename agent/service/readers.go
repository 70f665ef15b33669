package service

import (
	"context"
	"log/slog"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/opcua"
)

// liveSource is one configured OPC UA source and its reader. cfg and
// reader never change; a source with a new configuration is a new
// liveSource.
type liveSource struct {
	cfg    config.Source
	reader *opcua.Reader
	// stop, done and metrics are set by start, under readerSet.mu.
	stop    context.CancelFunc
	done    chan struct{}
	metrics []prometheus.Collector
}

// readerSet owns the running readers. Sources can be added, replaced and
// removed while the agent runs (a reloaded configuration); each reader
// has a context of its own so that one can stop while the others read on.
type readerSet struct {
	sink   opcua.Sink
	logger *slog.Logger
	reg    prometheus.Registerer
	// collectors returns the metrics of one source.
	collectors func(*liveSource) []prometheus.Collector
	// fatal receives the error of a reader that cannot go on.
	fatal chan<- error
	// options apply to every reader (the history state's directory).
	options []opcua.Option

	mu      sync.Mutex
	list    []*liveSource // in configuration order
	stopped bool
	wg      sync.WaitGroup
}

// newSource builds the reader of src; it starts nothing.
func (s *readerSet) newSource(src config.Source, extra ...opcua.Option) *liveSource {
	opts := append(slices.Clone(s.options), extra...)
	return &liveSource{cfg: src, reader: opcua.New(src, s.sink, s.logger.With("component", "opcua"), opts...)}
}

// snapshot returns the sources as they are now.
func (s *readerSet) snapshot() []*liveSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.list)
}

// start runs ls's reader and registers its metrics. After stopAll it does
// nothing.
func (s *readerSet) start(ls *liveSource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	ls.stop, ls.done = cancel, make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(ls.done)
		if err := ls.reader.Run(ctx); err != nil {
			select {
			case s.fatal <- err:
			default: // the agent is stopping on an earlier one
			}
		}
	}()
	ls.metrics = s.collectors(ls)
	for _, c := range ls.metrics {
		if err := s.reg.Register(c); err != nil {
			s.logger.Warn("register source metric", "source", ls.cfg.Name, "err", err)
		}
	}
}

// halt stops ls's reader, waits until it has handed everything it read to
// the sink, and unregisters its metrics.
func (s *readerSet) halt(ls *liveSource) {
	s.mu.Lock()
	stop, done, metrics := ls.stop, ls.done, ls.metrics
	s.mu.Unlock()
	if stop == nil {
		return
	}
	stop()
	<-done
	for _, c := range metrics {
		s.reg.Unregister(c)
	}
}

// reconfigured replaces ls in the list by a copy with the configuration
// src, for a reader that took src live (opcua.Reader.Update).
func (s *readerSet) reconfigured(ls *liveSource, src config.Source) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := *ls
	next.cfg = src
	if i := slices.Index(s.list, ls); i >= 0 {
		s.list[i] = &next
	}
}

// replace swaps old for ls in the list (appends ls when old is nil,
// removes old when ls is nil).
func (s *readerSet) replace(old, ls *liveSource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.Index(s.list, old)
	switch {
	case old == nil:
		s.list = append(s.list, ls)
	case ls == nil && i >= 0:
		s.list = slices.Delete(s.list, i, i+1)
	case i >= 0:
		s.list[i] = ls
	}
}

// stopAll stops every reader and waits for them; nothing starts after it.
func (s *readerSet) stopAll() {
	s.mu.Lock()
	s.stopped = true
	for _, ls := range s.list {
		if ls.stop != nil {
			ls.stop()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
}
