// Package service assembles the aggregator: the gRPC ingest receiver feeds
// the ClickHouse writer; the store keeps the schema and the committed ledger.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-telemetry/lifeline/aggregator/alarm"
	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/aggregator/console"
	"github.com/lifeline-telemetry/lifeline/aggregator/ingest"
	"github.com/lifeline-telemetry/lifeline/aggregator/memwatch"
	"github.com/lifeline-telemetry/lifeline/aggregator/owner"
	"github.com/lifeline-telemetry/lifeline/aggregator/registry"
	"github.com/lifeline-telemetry/lifeline/aggregator/report"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

// Aggregator runs the ingest pipeline.
type Aggregator struct {
	cfg      config.Config
	logger   *slog.Logger
	registry *prometheus.Registry

	mu          sync.Mutex
	addr        string
	metricsAddr string
	consoleAddr string
	recv        *ingest.Receiver // set once listening, for /readyz
	ready       chan struct{}
	mailer      report.Mailer // nil: no daily report schedule
}

// New returns an aggregator for cfg.
func New(cfg config.Config, logger *slog.Logger) *Aggregator {
	return &Aggregator{cfg: cfg, logger: logger, registry: prometheus.NewRegistry(), ready: make(chan struct{})}
}

// Ready is closed once the aggregator accepts agent streams.
func (a *Aggregator) Ready() <-chan struct{} { return a.ready }

// Addr returns the bound gRPC address once Ready.
func (a *Aggregator) Addr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr
}

// MetricsAddr returns the bound metrics address once Run has started it.
func (a *Aggregator) MetricsAddr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.metricsAddr
}

// ConsoleAddr returns the console's bound address once Ready, "" when it
// is off.
func (a *Aggregator) ConsoleAddr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.consoleAddr
}

// Run serves until ctx is done. It waits for ClickHouse at start, so the
// aggregator and its database may be started in any order; /readyz says
// what it waits for meanwhile.
func (a *Aggregator) Run(ctx context.Context) error {
	st := store.New(a.cfg.Store(), a.logger.With("component", "store"))
	defer st.Close()
	wr := writer.New(st, a.cfg.WriterOptions(), a.logger.With("component", "writer"))
	ms := obs.NewServer(a.cfg.Metrics, a.registry, a.logger.With("component", "metrics"))
	a.addChecks(ms, st, wr)
	defer ms.ShutdownWithin(2 * time.Second)
	if err := ms.Start(ctx); err != nil {
		return err
	}
	a.mu.Lock()
	a.metricsAddr = ms.Addr()
	a.mu.Unlock()
	stopWatch := startMemWatch(ctx, a.logger.With("component", "memory"))
	defer stopWatch()
	if err := a.openStore(ctx, st); err != nil {
		return err
	}
	stopConsole, err := a.startConsole(ctx, st)
	if err != nil {
		return err
	}
	defer stopConsole()
	stopForward := a.startForward(ctx, st)
	defer stopForward()

	// Several aggregators may share this ClickHouse: each evaluates the
	// alarms of the sites whose streams it took over last.
	owners := owner.New(st, a.cfg.Node(), a.logger.With("component", "owner"))
	if err := owners.Restore(ctx); err != nil {
		a.logger.Warn("read which sites this aggregator owned; they are taken over again as their agents connect", "err", err)
	}
	alarmOpts := a.cfg.AlarmOptions()
	alarmOpts.Owners = owners
	evaluator := alarm.New(st, alarmOpts, a.logger.With("component", "alarm"))
	ingestMetrics, linkMetrics, reportMetrics := registerMetrics(a.registry, wr, evaluator)
	stopReports := a.startReports(ctx, st, reportMetrics)
	defer stopReports()
	wr.Observe(evaluator)
	// Alarms are evaluated from committed batches; they stop after the
	// writer (defers run last-in first-out), so the last commits are
	// evaluated and checkpointed.
	stopAlarms := a.startAlarms(st, evaluator)
	defer stopAlarms()
	stopNotify := a.startNotify(st, owners)
	defer stopNotify()
	heartbeats := ingest.NewHeartbeats(st, 5*time.Second, ingestMetrics, a.logger.With("component", "heartbeats"))
	stopWriting := startWriting(wr, heartbeats)
	defer stopWriting()
	recv := a.newReceiver(st, wr, heartbeats, owners, ingestMetrics, linkMetrics)
	if err := recv.Start(ctx); err != nil {
		return err
	}
	a.mu.Lock()
	a.addr, a.recv = recv.Addr(), recv
	a.mu.Unlock()
	close(a.ready)

	<-ctx.Done()
	a.stopIngest(recv, wr)
	stopWriting()
	stopAlarms()
	stopNotify()
	a.logger.Info("aggregator stopped")
	return nil
}

// openStore waits for ClickHouse, then applies the site registry if one is
// configured, so ingest never starts against an unknown set of sites.
func (a *Aggregator) openStore(ctx context.Context, st *store.Store) error {
	if err := openWithRetry(ctx, st, a.logger); err != nil {
		return err
	}
	path := a.cfg.RegistryFile
	if path == "" {
		return nil
	}
	reg, err := registry.Load(path)
	if err != nil {
		return err
	}
	return reg.Apply(ctx, st)
}

// startConsole serves the alarm console when configured. The returned
// stop lets open requests finish for a moment, then cuts them off.
func (a *Aggregator) startConsole(ctx context.Context, st *store.Store) (stop func(), err error) {
	con := console.New(a.cfg.Console, st, a.logger.With("component", "console"))
	if err := con.Start(ctx); err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.consoleAddr = con.Addr()
	a.mu.Unlock()
	return func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := con.Shutdown(shutdown); err != nil {
			a.logger.Warn("console shutdown", "err", err)
		}
	}, nil
}

// startAlarms starts alarm evaluation and retention. Their context is not
// Run's: they must outlive it until the writer has drained. The returned
// stop cancels and waits, and may be called more than once.
func (a *Aggregator) startAlarms(st *store.Store, evaluator *alarm.Evaluator) (stop func()) {
	var evaluating sync.WaitGroup
	alarmCtx, cancel := context.WithCancel(context.Background())
	evaluating.Go(func() {
		if err := evaluator.Run(alarmCtx); err != nil {
			a.logger.Error("alarm evaluation stopped", "err", err)
		}
	})
	evaluating.Go(func() { runRetention(alarmCtx, st, a.cfg.RetentionPolicy(), a.logger.With("component", "retention")) })
	return sync.OnceFunc(func() {
		cancel()
		evaluating.Wait()
	})
}

// startMemWatch warns in the log while the memory limit makes collecting
// garbage a large part of the aggregator's work. The returned stop cancels
// and waits.
func startMemWatch(ctx context.Context, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var watching sync.WaitGroup
	watching.Go(func() { memwatch.NewWatcher(logger).Run(ctx) })
	return func() {
		cancel()
		watching.Wait()
	}
}

// startWriting starts the writer and the heartbeat recorder on a context of
// their own, so shutdown can drain the writer after Run's ctx has ended.
// The returned stop cancels and waits, and may be called more than once.
func startWriting(wr *writer.Writer, heartbeats *ingest.Heartbeats) (stop func()) {
	writeCtx, cancel := context.WithCancel(context.Background())
	var writing sync.WaitGroup
	writing.Go(func() { _ = wr.Run(writeCtx) })
	writing.Go(func() { heartbeats.Run(writeCtx) })
	return sync.OnceFunc(func() {
		cancel()
		writing.Wait()
	})
}

func (a *Aggregator) newReceiver(st *store.Store, wr *writer.Writer, heartbeats *ingest.Heartbeats, owners *owner.Registry, metrics *ingest.Metrics, link *ingest.LinkMetrics) *ingest.Receiver {
	opts := ingest.DefaultOptions()
	opts.Owners = owners
	opts.RequirePeerIdentity = !a.cfg.Server.TLS.Insecure
	opts.RequireRegistered = a.cfg.RequireRegistered
	opts.MaxStreams = int(a.cfg.Server.MaxStreams)
	opts.HelloTimeout = a.cfg.Server.Limits.HelloTimeout
	// The writer's pending bound is what it can hold without blocking the
	// streams: admitting about that much keeps its inserts full while
	// batches wait in the agents' buffers instead of in front of it.
	opts.WindowSamples = a.cfg.Writer.MaxPendingRows
	svc := ingest.NewService(st, wr, heartbeats, opts, metrics, a.logger.With("component", "ingest"))
	return ingest.NewReceiver(a.cfg.Server, svc, a.logger.With("component", "ingest"), link)
}

// stopIngest stops taking batches, gives streams a moment to receive the
// acks of what is being committed, then commits what the writer holds. An
// ack that no longer reaches its agent is not lost: the agent asks on
// reconnect and learns the batch is committed.
func (a *Aggregator) stopIngest(recv *ingest.Receiver, wr *writer.Writer) {
	grace, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = recv.Shutdown(grace)
	drain, cancelDrain := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelDrain()
	if err := wr.Drain(drain); err != nil {
		a.logger.Warn("pending batches not committed at shutdown; agents will resend them", "err", err)
	}
}

func openWithRetry(ctx context.Context, st *store.Store, logger *slog.Logger) error {
	wait := 500 * time.Millisecond
	for {
		err := st.Open(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("open ClickHouse: %w", err)
		}
		logger.Warn("ClickHouse not ready", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return fmt.Errorf("open ClickHouse: %w", err)
		case <-time.After(wait):
		}
		wait = min(wait*2, 10*time.Second)
	}
}
