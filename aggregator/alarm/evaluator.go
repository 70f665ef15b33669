package alarm

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// Store is what the evaluator reads and writes; *store.Store is one.
type Store interface {
	PointConfigs(ctx context.Context) ([]store.PointConfig, error)
	SitesPointConfigs(ctx context.Context, sites []string) ([]store.PointConfig, error)
	ChangedSites(ctx context.Context, since time.Time) (map[string]uint64, error)
	SaveAlarmEvents(ctx context.Context, events []store.AlarmEvent) error
	SaveAlarmStates(ctx context.Context, states []store.AlarmState) error
	LoadAlarmStates(ctx context.Context) ([]store.AlarmState, error)
	LatestSeqs(ctx context.Context, sites []string) (map[string]uint64, error)
	ReplaySites(ctx context.Context, ranges map[string]store.SeqRange, fn func(*store.Batch) error) error
	LastHeartbeats(ctx context.Context, since time.Time) (map[string]store.Heartbeat, error)
}

// Options tune the evaluator. Zero durations disable what they time.
type Options struct {
	// OnDelay and OffDelay: how long (source time) a condition must hold
	// before it is raised, or stay returned before it clears.
	OnDelay, OffDelay time.Duration
	// StaleAfter raises stale for an in-service point without samples for
	// this long.
	StaleAfter time.Duration
	// CommLossAfter raises comm_loss for a site without batches this long.
	CommLossAfter time.Duration
	// Tick is how often delays, staleness and communication are checked
	// and events written (with a checkpoint); CheckpointEvery how often
	// state is saved when no event is;
	// RefreshEvery how often the configurations of points changed since
	// the last read are re-read, RefreshAllEvery how often every point's.
	Tick, CheckpointEvery, RefreshEvery, RefreshAllEvery time.Duration
	// Grace is how late (aggregator clock) a sample may arrive before a
	// delay is decided without it.
	Grace time.Duration
	// MaxQueuedSamples bounds the samples waiting for evaluation; beyond
	// it, batches are dropped from the queue and re-read from ClickHouse.
	// A queued sample is ~50 bytes of heap (see committedBatch; decoded
	// protobuf, as queued before, was ~150 and at 1,000,000 a lagging
	// evaluator held ~700 MB of RSS at 100 agents). 600,000 is three
	// seconds of that load (make bench), ~30 MB: room for a read from a
	// busy ClickHouse without dropping what arrives meanwhile.
	MaxQueuedSamples int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Owners, when set, limits evaluation to the sites this aggregator
	// owns and fences every write (see ownership.go); nil evaluates every
	// site, as a lone aggregator does.
	Owners Owners
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{
		OnDelay:          0,
		OffDelay:         0,
		StaleAfter:       5 * time.Minute,
		CommLossAfter:    2 * time.Minute,
		Tick:             time.Second,
		CheckpointEvery:  5 * time.Second,
		RefreshEvery:     30 * time.Second,
		RefreshAllEvery:  10 * time.Minute,
		Grace:            2 * time.Second,
		MaxQueuedSamples: 600_000,
	}
}

// Evaluator raises and clears alarms from committed batches. Committed is
// its input (a writer.CommitObserver); Run does the work.
type Evaluator struct {
	st     Store
	opts   Options
	logger *slog.Logger

	queue   chan item
	queued  atomic.Int64 // samples in queue
	running atomic.Bool

	dropMu  sync.Mutex
	dropped map[string]seqRange // site → batches to read back from ClickHouse
	unread  map[string]bool     // sites whose read-back failed: their queued batches wait for it
	markers int                 // read-backs queued (items with replay)
	reading int                 // sites the tick's read-back is reading now

	raised, cleared atomic.Uint64
	fenced          atomic.Uint64

	// Owned by Run.
	points     map[[2]string]point // every point configured or evaluated (see point)
	readAll    time.Time           // when start's read of every point began (wall clock)
	sites      map[string]*siteState
	dirtySites map[string]bool // sites whose state changed since the checkpoint; points' are marked in their machines
	outbox     []store.AlarmEvent
	lastCkp    time.Time
	lastHb     time.Time
	known      map[string]bool      // sites with points configured
	learned    map[string]time.Time // sites whose points were read alone, since a refresh began
	asked      map[string]time.Time // sites without points, when last asked
	adopted    map[string]uint64    // with Owners: the sites evaluated here and their epochs
	metrics    *Metrics
}

// New returns an evaluator. It does no I/O; call Run.
func New(st Store, opts Options, logger *slog.Logger) *Evaluator {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d := DefaultOptions()
	if opts.Tick <= 0 {
		opts.Tick = d.Tick
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = d.CheckpointEvery
	}
	if opts.RefreshEvery <= 0 {
		opts.RefreshEvery = d.RefreshEvery
	}
	if opts.RefreshAllEvery <= 0 {
		opts.RefreshAllEvery = d.RefreshAllEvery
	}
	if opts.MaxQueuedSamples <= 0 {
		opts.MaxQueuedSamples = d.MaxQueuedSamples
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Evaluator{
		st: st, opts: opts, logger: logger,
		queue:      make(chan item, queueItems),
		dropped:    map[string]seqRange{},
		unread:     map[string]bool{},
		points:     map[[2]string]point{},
		sites:      map[string]*siteState{},
		dirtySites: map[string]bool{},
		adopted:    map[string]uint64{},
		known:      map[string]bool{},
		learned:    map[string]time.Time{},
		asked:      map[string]time.Time{},
	}
}

// Counts returns how many alarms this evaluator raised and cleared.
func (e *Evaluator) Counts() (raised, cleared uint64) { return e.raised.Load(), e.cleared.Load() }

// Fenced counts the sites whose unwritten alarm rows were dropped because
// another aggregator had taken them over.
func (e *Evaluator) Fenced() uint64 { return e.fenced.Load() }

// Run loads the checkpoint (retrying until ClickHouse answers), evaluates
// until ctx ends, then writes the remaining events and the checkpoint
// (bounded by a few seconds) and returns. It may be called once.
func (e *Evaluator) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("alarm: Run called twice")
	}
	// Until the checkpoint is loaded nothing is evaluated; batches
	// committed meanwhile wait in the queue or are re-read later.
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		err := e.start(ctx)
		if err == nil {
			break
		}
		e.logger.Warn("alarm evaluation cannot start; retrying", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
	refreshed := make(chan configs)
	var refresher sync.WaitGroup
	refreshCtx, stopRefresh := context.WithCancel(ctx)
	readAll := e.readAll
	refresher.Go(func() { e.refreshLoop(refreshCtx, refreshed, readAll) })
	defer func() {
		stopRefresh()
		refresher.Wait()
	}()
	tick := time.NewTicker(e.opts.Tick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			e.drainQueue(ctx)
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return e.checkpoint(final)
		case it := <-e.queue:
			e.handleQueued(ctx, it)
		case <-tick.C:
			e.tick(ctx)
		case c := <-refreshed:
			e.install(c)
		}
	}
}

// tick decides delays, staleness and communication loss on the clock, and
// writes events; every CheckpointEvery it checkpoints. (Point
// configurations are re-read beside the loop: see refreshLoop.)
func (e *Evaluator) tick(ctx context.Context) {
	now := e.opts.Now()
	nowNs := now.UnixNano()
	e.adoptHeld(ctx)
	e.pointTimers(nowNs)
	e.heartbeats(ctx, now)
	e.commLoss(nowNs)
	e.replayDropped(ctx)
	// Events wait for their sites' checkpoint (pending.go), which is due
	// as soon as there are any.
	var err error
	switch {
	case now.Sub(e.lastCkp) >= e.opts.CheckpointEvery:
		err = e.checkpoint(ctx)
	case len(e.outbox) > 0:
		err = e.checkpointEvents(ctx)
	}
	if err != nil {
		e.failed()
		e.logger.Warn("checkpoint alarm state and events; will retry", "events", len(e.outbox), "err", err)
	}
}
