// Package service assembles the agent: OPC UA readers feed the batcher, the
// batcher fills the durable buffer, and the uplink drains it to the aggregator.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/credentials"

	"github.com/lifeline-telemetry/lifeline/agent/batcher"
	"github.com/lifeline-telemetry/lifeline/agent/buffer"
	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/opcua"
	"github.com/lifeline-telemetry/lifeline/agent/statuspage"
	"github.com/lifeline-telemetry/lifeline/agent/uplink"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

// Agent runs one site's collection pipeline.
type Agent struct {
	cfg      config.Config
	version  string
	logger   *slog.Logger
	registry *prometheus.Registry

	tap func([]*lifelinev1.Sample)
	// certNotAfter is when the link certificate expires (Unix ns, 0 without TLS).
	certNotAfter int64
	// beat is stamped by the alive loop, for /healthz.
	beat obs.Heartbeat

	// journal keeps recent warnings, errors and gaps for the status page.
	journal *statuspage.Journal

	mu      sync.Mutex
	running *pipeline
	metrics *obs.Server
	page    *statuspage.Server

	// level is the logger's level, which a reload may change (nil: it
	// cannot); reloads is the state of configuration reloads (reload.go).
	level   *slog.LevelVar
	reloads *reloadState
}

type pipeline struct {
	queue   *buffer.Queue
	batcher *batcher.Batcher
	sources *readerSet
	uplink  *uplink.Uplink
	drain   *rateMeter
	alive   *downtime
	// fatal receives the error of a stage that cannot go on.
	fatal chan error
}

// Stats is a snapshot of the agent's progress.
type Stats struct {
	Read          uint64 // samples received from OPC UA
	Stored        uint64 // samples written to the buffer
	Acked         uint64 // samples the aggregator committed
	BufferEntries int64
	BufferBytes   int64
	Connected     bool
}

// Option adjusts an Agent.
type Option func(*Agent)

// WithTap passes every sample the OPC UA readers deliver to f as well, after
// the batcher has taken it. f must not modify or keep the slice.
func WithTap(f func([]*lifelinev1.Sample)) Option { return func(a *Agent) { a.tap = f } }

// WithLogLevel hands the agent its logger's level, so that a reloaded
// configuration can change it (see obs.NewLevelLogger).
func WithLogLevel(v *slog.LevelVar) Option { return func(a *Agent) { a.level = v } }

// New returns an agent for cfg. Its metrics go to a registry of its own,
// served on cfg.Metrics.Listen. Its warnings and errors are also kept for
// the status page (cfg.StatusPage).
func New(cfg config.Config, version string, logger *slog.Logger, opts ...Option) *Agent {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	journal := statuspage.NewJournal()
	a := &Agent{cfg: cfg, version: version, logger: slog.New(journal.Handler(logger.Handler())),
		registry: prometheus.NewRegistry(), journal: journal, reloads: newReloadState(cfg)}
	for _, o := range opts {
		o(a)
	}
	return a
}

// tee hands samples to the batcher and then to a tap.
type tee struct {
	sink opcua.Sink
	tap  func([]*lifelinev1.Sample)
}

func (t tee) Write(samples []*lifelinev1.Sample) {
	t.sink.Write(samples)
	t.tap(samples)
}

// Stats returns the running pipeline's counters (zero before Run).
func (a *Agent) Stats() Stats {
	a.mu.Lock()
	p := a.running
	a.mu.Unlock()
	if p == nil {
		return Stats{}
	}
	qs := p.queue.Stats()
	us := p.uplink.Stats()
	return Stats{
		Read:          p.batcher.Received(),
		Stored:        p.batcher.Stored(),
		Acked:         us.AckedSamples,
		BufferEntries: qs.Entries,
		BufferBytes:   qs.Bytes,
		Connected:     us.Connected,
	}
}

// MetricsAddr returns the bound metrics address once Run has started it.
func (a *Agent) MetricsAddr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.metrics == nil {
		return ""
	}
	return a.metrics.Addr()
}

// Run collects and forwards until ctx is done. Shutdown goes with the flow:
// readers stop first, the batcher writes what they delivered, then the
// uplink stops and the buffer closes, so nothing read is left in memory.
func (a *Agent) Run(ctx context.Context) error {
	creds, notAfter, err := clientCredentials(a.cfg.Aggregator.TLS)
	if err != nil {
		return err
	}
	a.certNotAfter = notAfter
	a.warnCertExpiry(time.Now())
	p := &pipeline{}
	// Served before the buffer opens (a large one takes a while), so
	// /readyz says what the agent is waiting for.
	ms, err := a.serveMetrics(ctx)
	if err != nil {
		return err
	}
	q, err := a.openBuffer(p)
	if err != nil {
		ms.ShutdownWithin(2 * time.Second)
		return err
	}
	defer q.Close()
	// Stopped before the buffer closes: no scrape or probe reads a closed one.
	defer ms.ShutdownWithin(2 * time.Second)
	a.build(p, q, creds)
	defer a.serveStatusPage(ctx, p)()
	return a.run(ctx, p)
}

// openBuffer opens the on-disk queue. Its drop callbacks go through p
// because the batcher that records the drops is built after the queue.
func (a *Agent) openBuffer(p *pipeline) (*buffer.Queue, error) {
	qopts := buffer.DefaultOptions()
	qopts.MaxBytes = a.cfg.Buffer.MaxBytes
	qopts.SyncWrites = a.cfg.Buffer.Sync == "batch"
	qopts.Logger = a.logger.With("component", "buffer")
	// The batcher exists before the first Append can drop anything.
	qopts.OnDrop = func(seq uint64, data []byte) { p.batcher.Dropped(seq, data) }
	qopts.OnDiskFullDrop = func(seq uint64, data []byte) { p.batcher.DiskFullDropped(seq, data) }
	qopts.MinFreeBytes, qopts.MemoryBytes = a.cfg.Buffer.MinFreeBytes, a.cfg.Buffer.MemoryBytes
	q, err := buffer.Open(a.cfg.Buffer.Dir, qopts)
	if err != nil {
		return nil, fmt.Errorf("open buffer: %w", err)
	}
	return q, nil
}

// build wires the batcher, readers and uplink around q, then publishes the
// pipeline so Stats and the metrics see it. It starts nothing.
func (a *Agent) build(p *pipeline, q *buffer.Queue, creds credentials.TransportCredentials) {
	p.queue = q
	p.batcher = batcher.New(q, batcher.Options{MaxSamples: a.cfg.Buffer.BatchSamples, MaxWait: a.cfg.Buffer.BatchWait.D(),
		OnGap: a.recordGap}, a.logger.With("component", "batcher"))
	seedMarks(q, p.batcher, a.logger)
	if qe := q.Quarantined(); qe != nil {
		// What the damaged buffer held is unknown; the gap marks when.
		now := time.Now().UnixNano()
		p.batcher.RecordGap(&lifelinev1.Gap{FromNs: now, ToNs: now, Reason: "buffer_corrupt"})
		a.logger.Error("buffer was damaged and has been set aside; its unsent data is lost", "moved_to", qe.QuarantinedTo, "err", qe.Err)
	}
	p.alive = newDowntime(a.cfg.Buffer.Dir, a.logger.With("component", "downtime"))
	p.alive.beat = &a.beat
	stopped := p.alive.since(time.Now())
	p.drain = newRateMeter()
	var sink opcua.Sink = p.batcher
	if a.tap != nil {
		sink = tee{sink: p.batcher, tap: a.tap}
	}
	p.fatal = make(chan error, 3)
	p.sources = &readerSet{sink: sink, logger: a.logger, reg: a.registry, collectors: sourceCollectors, fatal: p.fatal,
		options: []opcua.Option{opcua.WithHistoryDir(a.cfg.Buffer.Dir)}}
	for _, src := range a.cfg.Sources {
		// The reader adds source and endpoint to its logger itself.
		p.sources.list = append(p.sources.list, p.sources.newSource(src, opcua.WithStoppedGap(stopped)))
	}
	if stopped != nil {
		a.recordStopped(p, stopped)
	}
	p.uplink = uplink.New(q, a.uplinkOptions(p, creds), a.logger.With("component", "uplink"))
	a.mu.Lock()
	a.running = p
	a.mu.Unlock()
	a.registerMetrics(a.registry, p)
	a.registerDiskMetrics(a.registry, p)
}

func (a *Agent) uplinkOptions(p *pipeline, creds credentials.TransportCredentials) uplink.Options {
	return uplink.Options{
		Address:          a.cfg.Aggregator.Address,
		Addresses:        a.cfg.Aggregator.Targets(),
		AckTimeout:       a.cfg.Aggregator.AckTimeout.D(),
		ProbeInterval:    a.cfg.Aggregator.PreferredProbe.D(),
		ProbeSuccesses:   a.cfg.Aggregator.PreferredProbes,
		Credentials:      creds,
		Hello:            a.reloads.hello(a.version),
		MaxInFlight:      a.cfg.Aggregator.MaxInFlight,
		ReconnectMin:     a.cfg.Aggregator.ReconnectMin.D(),
		ReconnectMax:     a.cfg.Aggregator.ReconnectMax.D(),
		Keepalive:        a.cfg.Aggregator.Keepalive.D(),
		KeepaliveTimeout: a.cfg.Aggregator.KeepaliveTimeout.D(),
		Status:           func() *lifelinev1.Status { return a.status(p) },
		StatusInterval:   a.cfg.Aggregator.StatusInterval.D(),
		Compression:      a.cfg.Aggregator.Compression,
	}
}

// serveMetrics starts /metrics, /healthz and /readyz.
func (a *Agent) serveMetrics(ctx context.Context) (*obs.Server, error) {
	ms := obs.NewServer(a.cfg.Metrics, a.registry, a.logger.With("component", "metrics"))
	a.addChecks(ms)
	if err := ms.Start(ctx); err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.metrics = ms
	a.mu.Unlock()
	return ms, nil
}

// run starts the pipeline's goroutines and, when ctx ends or one of them
// fails, stops them stage by stage in the order the data flows. Each stage
// has its own context (not derived from ctx) so one stage can be stopped
// while the next still runs.
func (a *Agent) run(ctx context.Context, p *pipeline) error {
	batchCtx, stopBatcher := context.WithCancel(context.Background())
	upCtx, stopUplink := context.WithCancel(context.Background())
	defer p.sources.stopAll()
	defer stopBatcher()
	defer stopUplink()

	var batching, up sync.WaitGroup
	fatal := p.fatal
	for _, ls := range p.sources.snapshot() {
		p.sources.start(ls)
	}
	batching.Go(func() { _ = p.batcher.Run(batchCtx) })
	batching.Go(func() { p.alive.run(batchCtx) })
	if a.cfg.Buffer.Sync == "interval" {
		batching.Go(func() { syncEvery(batchCtx, p.queue, a.cfg.Buffer.SyncInterval.D(), a.logger) })
	}
	up.Go(func() {
		if err := p.uplink.Run(upCtx); err != nil {
			select {
			case fatal <- err:
			default:
			}
		}
	})
	a.logger.Info("agent running", "site", a.cfg.Site.ID, "sources", len(a.cfg.Sources), "aggregator", a.cfg.Aggregator.Targets(), "buffer", a.cfg.Buffer.Dir)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-fatal:
		a.logger.Error("agent stopping", "err", runErr)
	}
	a.reloads.close()
	p.sources.stopAll()
	stopBatcher()
	batching.Wait()
	if err := p.queue.Sync(); err != nil {
		a.logger.Error("sync buffer", "err", err)
	}
	a.drainBeforeStop(p)
	stopUplink()
	up.Wait()
	st := p.queue.Stats()
	a.logger.Info("agent stopped", "buffered_batches", st.Entries, "buffered_bytes", st.Bytes)
	return runErr
}
