// Package writer groups agents' batches into ClickHouse inserts: back-pressure,
// live batches first, retries, and the commit callbacks that drive acks.
package writer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// Inserter stores a group of batches atomically per batch; *Store is one.
type Inserter interface {
	Insert(ctx context.Context, batches []*store.Batch) error
}

// ErrStopped is returned by Submit once the Writer drains or stops.
var ErrStopped = errors.New("writer: stopped")

// Options tune a Writer. Zero fields take the defaults of
// DefaultOptions.
type Options struct {
	// MaxRows flushes as soon as this many sample rows are waiting; one
	// insert holds at most this many (or one larger batch).
	MaxRows int
	// MaxDelay flushes this long after the oldest waiting batch arrived;
	// while another insert runs, a quarter of MaxRows waiting starts one
	// sooner (see take).
	MaxDelay time.Duration
	// MaxPendingRows bounds the rows queued or being inserted: Submit blocks
	// beyond it (back-pressure on the agents' streams), and beyond half of
	// it for back-filled batches, so live ones always find room. Waiting rows are
	// decoded protobuf samples, ~200 bytes each in the heap, so this is
	// mostly a memory bound; a few inserts' worth keeps ClickHouse busy.
	// Measured with make bench, 100 agents: 1,000,000 → aggregator RSS
	// 1.75 GB at 325,000 samples/s; 400,000 → 1.13 GB at 458,000 (less
	// for the garbage collector to walk); 10 agents unchanged.
	MaxPendingRows int
	// RetryBackoff is the first wait after a failed insert; it doubles up to
	// MaxRetryBackoff.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// GiveUpAfter ends the retries of a failing insert: its batches fail
	// (their agents get a nack, keep them and send them again later), so
	// an agent learns that ClickHouse is not committing instead of waiting
	// on a link that looks healthy.
	GiveUpAfter time.Duration
	// Inserts is how many inserts may run at once, each on its own
	// ClickHouse connection. One insert leaves the server idle while the
	// client encodes and waits for the commit: make bench measured two
	// connections at 1.65–1.92 × one on 2 cores.
	Inserts int
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{
		MaxRows:         100_000,
		MaxDelay:        200 * time.Millisecond,
		MaxPendingRows:  400_000,
		RetryBackoff:    100 * time.Millisecond,
		MaxRetryBackoff: 5 * time.Second,
		GiveUpAfter:     time.Minute,
		Inserts:         2,
	}
}

// Validate reports negative fields. It changes nothing.
func (o Options) Validate() error {
	var errs []error
	if o.MaxRows < 0 {
		errs = append(errs, fmt.Errorf("max_rows %d: must be positive (0 for the default)", o.MaxRows))
	}
	if o.MaxDelay < 0 {
		errs = append(errs, fmt.Errorf("max_delay %s: must be positive (0 for the default)", o.MaxDelay))
	}
	if o.MaxPendingRows < 0 {
		errs = append(errs, fmt.Errorf("max_pending_rows %d: must be positive (0 for the default)", o.MaxPendingRows))
	}
	if o.Inserts < 0 {
		errs = append(errs, fmt.Errorf("inserts %d: must be positive (0 for the default)", o.Inserts))
	}
	if o.GiveUpAfter < 0 {
		errs = append(errs, fmt.Errorf("give_up_after %s: must be positive (0 for the default)", o.GiveUpAfter))
	}
	if o.RetryBackoff < 0 || o.MaxRetryBackoff < 0 {
		errs = append(errs, fmt.Errorf("retry_backoff %s, max_retry_backoff %s: must be positive (0 for the default)",
			o.RetryBackoff, o.MaxRetryBackoff))
	}
	return errors.Join(errs...)
}

// withDefaults fills zero (or negative) fields from DefaultOptions.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.MaxRows <= 0 {
		o.MaxRows = d.MaxRows
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = d.MaxDelay
	}
	if o.MaxPendingRows <= 0 {
		o.MaxPendingRows = d.MaxPendingRows
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = d.RetryBackoff
	}
	if o.GiveUpAfter <= 0 {
		o.GiveUpAfter = d.GiveUpAfter
	}
	if o.Inserts <= 0 {
		o.Inserts = d.Inserts
	}
	if o.MaxRetryBackoff <= 0 {
		o.MaxRetryBackoff = max(d.MaxRetryBackoff, o.RetryBackoff)
	}
	return o
}

// Writer gathers batches from many agent streams into large inserts. Submit
// queues; Run flushes by size or age, retries failed inserts until they
// succeed, and reports each batch's outcome through its done callback.
type Writer struct {
	ins    Inserter
	opts   Options
	logger *slog.Logger

	running  atomic.Bool
	turned   atomic.Int64   // Unix ns when Run last came round or an insert attempt ended
	observer CommitObserver // optional; set by Observe before Run
	metrics  *Metrics       // optional; set by NewMetrics before Run
	wake     chan struct{}  // capacity 1: something changed for the flusher

	mu       sync.Mutex
	queue    []pending     // waiting for a flush: live batches first, then back-filled ones, each oldest first
	live     int           // how many of queue's head are live batches
	queued   int           // rows in queue
	inFlight int           // rows queued or being inserted
	telling  int           // finishes whose callbacks are still running
	space    chan struct{} // closed (and replaced) when inFlight shrinks
	same     coalescer     // batches queued or in flight, by ledger key
	stopped  bool          // no more Submits
	stopCh   chan struct{} // closed when stopped is set
	drained  chan struct{} // closed when stopped, nothing in flight or queued, and every outcome told

	told turns // inserts' outcomes, told in the order they were taken
}

type pending struct {
	b    *store.Batch
	done func(error)
	at   time.Time
}

// New returns a Writer inserting through ins. Invalid options are
// replaced by defaults; check them with Options.Validate first.
func New(ins Inserter, opts Options, logger *slog.Logger) *Writer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Writer{
		ins:     ins,
		opts:    opts.withDefaults(),
		logger:  logger,
		wake:    make(chan struct{}, 1),
		space:   make(chan struct{}),
		stopCh:  make(chan struct{}),
		drained: make(chan struct{}),
	}
}

// Observe makes the Writer tell o about every committed group of batches.
// Call it before Run.
func (w *Writer) Observe(o CommitObserver) { w.observer = o }

// Submit queues b. done is called exactly once, from one of the Writer's
// goroutines and never two at once, when the insert holding b committed (nil) or b definitively failed (a
// permanent error, or the Writer stopped first); it must not block. A batch
// (same site, buffer and seq) submitted while an earlier submission of it is
// still queued or being inserted is not queued again: its done is called
// with the earlier one's result. Submit
// blocks while the pending rows exceed MaxPendingRows, and returns an error
// (without calling done) if ctx ends first or the Writer is stopped.
func (w *Writer) Submit(ctx context.Context, b *store.Batch, done func(error)) error {
	if b == nil || done == nil {
		return errors.New("store: Submit needs a batch and a done callback")
	}
	n := len(b.Samples)
	for {
		w.mu.Lock()
		if w.stopped {
			w.mu.Unlock()
			return ErrStopped
		}
		if w.same.join(b, done) {
			w.mu.Unlock()
			w.logger.Info("batch submitted again while the first is pending; coalesced", "site", b.SiteID, "seq", b.Seq)
			return nil
		}
		// A batch larger than the bound still passes when nothing is pending.
		// Back-filled batches may use only half the bound, so a drain that
		// fills its share never holds back what is happening now; live
		// batches stay within the bound itself, which is what sizes the
		// aggregator's memory (it was twice the bound for live data: at
		// 100 agents, 800,000 decoded rows held for a bound of 400,000).
		limit := w.opts.MaxPendingRows
		if b.Backfill {
			limit /= 2
		}
		if w.inFlight == 0 || w.inFlight+n <= limit {
			p := pending{b: b, done: done, at: time.Now()}
			if b.Backfill {
				w.queue = append(w.queue, p)
			} else {
				// Live data goes into the next insert, ahead of any backlog.
				w.queue = slices.Insert(w.queue, w.live, p)
				w.live++
			}
			w.queued += n
			w.inFlight += n
			w.same.hold(b)
			w.mu.Unlock()
			w.signal()
			return nil
		}
		space := w.space
		w.mu.Unlock()
		select {
		case <-space:
		case <-w.stopCh:
		case <-ctx.Done():
			return fmt.Errorf("store: waiting for writer capacity: %w", ctx.Err())
		}
	}
}

// Drain stops accepting batches, flushes what is queued without waiting for
// MaxDelay, and returns when all of it is done or ctx ends. Run must be
// running for the queue to drain. Drain is safe to call more than once.
func (w *Writer) Drain(ctx context.Context) error {
	w.stop()
	w.signal()
	select {
	case <-w.drained:
		return nil
	case <-ctx.Done():
		w.mu.Lock()
		left := w.inFlight
		w.mu.Unlock()
		return fmt.Errorf("store: drain writer (%d rows left): %w", left, ctx.Err())
	}
}

func (w *Writer) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.stopped = true
		close(w.stopCh)
		w.checkDrainedLocked()
	}
}

func (w *Writer) checkDrainedLocked() {
	if w.stopped && w.inFlight == 0 && w.telling == 0 && len(w.queue) == 0 {
		select {
		case <-w.drained:
		default:
			close(w.drained)
		}
	}
}

func (w *Writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run flushes until ctx ends. It then stops accepting batches, waits for
// the inserts under way, calls done with an error for every batch not yet
// committed, and returns nil. Run may be called once.
func (w *Writer) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("store: Writer.Run called twice")
	}
	var inserts sync.WaitGroup
	defer func() {
		inserts.Wait()
		w.abandon(ctx)
	}()
	slots := make(chan struct{}, w.opts.Inserts)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var ticket uint64
	for {
		if ctx.Err() != nil {
			return nil
		}
		w.turned.Store(time.Now().UnixNano())
		var group []pending
		var wait time.Duration
		if len(slots) < cap(slots) {
			group, wait = w.take(time.Now(), len(slots))
		}
		if len(group) > 0 {
			slots <- struct{}{}
			t := ticket
			ticket++
			inserts.Go(func() {
				defer func() {
					<-slots
					w.signal()
				}()
				w.metrics.taken(group, time.Now())
				var s settlement
				w.write(ctx, &s, group)
				s.ended = time.Now()
				w.told.tell(t, &s, w.apply)
			})
			continue
		}
		var tick <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			tick = timer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
		case <-tick:
		}
	}
}

// apply tells the outcome of one insert: to the observer and through the
// done callbacks.
func (w *Writer) apply(s *settlement) {
	w.metrics.told(s.ended)
	for _, st := range s.steps {
		if st.parts != nil {
			if w.observer != nil {
				w.observer.Committed(st.parts)
			}
			continue
		}
		w.finish(st.group, st.err)
	}
}

// eagerShare: while an insert runs, the next starts once 1/eagerShare of
// MaxRows is waiting.
const eagerShare = 4

// take removes the next group to insert from the queue when one is due: at
// least MaxRows rows, or the oldest batch MaxDelay old, or draining, or
// another insert under way (running) and a quarter of MaxRows waiting.
// Otherwise it returns how long until the oldest batch is due (0: nothing
// queued).
func (w *Writer) take(now time.Time, running int) ([]pending, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return nil, 0
	}
	// While another insert runs, a free connection takes what is waiting
	// as soon as it is worth an insert, instead of letting it age to
	// MaxDelay: the two inserts then overlap and each batch waits about
	// half an insert, not up to MaxDelay plus one. The floor keeps inserts
	// few and large: each costs ClickHouse ~50 ms beside ~3 µs a row (store
	// inserts of 2,000 to 100,000 rows on the 2-core bench machine, busy),
	// and it wants parts large. So at most one insert per quarter of MaxRows.
	if running > 0 && w.queued >= max(w.opts.MaxRows/eagerShare, 1) {
		return w.takeLocked(), 0
	}
	oldest := w.queue[0].at
	if w.live > 0 && w.live < len(w.queue) && w.queue[w.live].at.Before(oldest) {
		oldest = w.queue[w.live].at
	}
	age := now.Sub(oldest)
	if w.queued < w.opts.MaxRows && age < w.opts.MaxDelay && !w.stopped {
		return nil, w.opts.MaxDelay - age
	}
	return w.takeLocked(), 0
}

// takeLocked removes up to MaxRows rows (at least one batch) from the
// head of the queue.
func (w *Writer) takeLocked() []pending {
	k, rows := 0, 0
	for k < len(w.queue) && (k == 0 || rows+len(w.queue[k].b.Samples) <= w.opts.MaxRows) {
		rows += len(w.queue[k].b.Samples)
		k++
	}
	group := make([]pending, k)
	copy(group, w.queue)
	n := copy(w.queue, w.queue[k:])
	clear(w.queue[n:])
	w.queue = w.queue[:n]
	w.live -= min(k, w.live)
	w.queued -= rows
	return group
}

// write inserts group, retrying transient failures until ctx ends. A
// group ClickHouse refuses for good is split in halves until the batches
// at fault stand alone; those are taken apart row by row (refuse), so that
// every valid batch commits and nothing waits behind an invalid one.
func (w *Writer) write(ctx context.Context, s *settlement, group []pending) {
	batches := make([]*store.Batch, len(group))
	for i, p := range group {
		batches[i] = p.b
	}
	err := w.retry(ctx, len(batches), func() error { return w.insert(ctx, batches) })
	switch {
	case err == nil || !store.IsPermanent(err):
		s.finish(group, err)
	case len(group) > 1:
		w.logger.Warn("insert refused; splitting it to find the batches at fault", "batches", len(group), "error", err)
		h := len(group) / 2
		w.write(ctx, s, group[:h])
		w.write(ctx, s, group[h:])
	default:
		w.refuse(ctx, s, group[0], err)
	}
}

// insert stores batches once, counting the attempt.
func (w *Writer) insert(ctx context.Context, batches []*store.Batch) error {
	start := time.Now()
	err := w.ins.Insert(ctx, batches)
	w.turned.Store(time.Now().UnixNano())
	w.metrics.attempt(ctx, batches, time.Since(start), err)
	return err
}

// retry calls insert until it succeeds, fails permanently, ctx ends or
// GiveUpAfter passes, waiting RetryBackoff (doubling) between attempts, or
// longer when the server asks to be throttled.
func (w *Writer) retry(ctx context.Context, batches int, insert func() error) error {
	backoff := w.opts.RetryBackoff
	giveUp := time.Now().Add(w.opts.GiveUpAfter)
	for attempt := 1; ; attempt++ {
		err := insert()
		if err == nil || store.IsPermanent(err) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("store: writer stopped: %w (last insert error: %v)", ctx.Err(), err)
		}
		if time.Now().After(giveUp) {
			w.logger.Error("insert still failing; giving its batches back to their agents",
				"attempts", attempt, "batches", batches, "error", err)
			return fmt.Errorf("store: not committed after %d attempts in %s: %w", attempt, w.opts.GiveUpAfter, err)
		}
		wait := backoff
		var throttle *store.ThrottleError
		if errors.As(err, &throttle) {
			wait = max(wait, throttle.After)
		}
		w.logger.Warn("insert failed; retrying", "attempt", attempt, "batches", batches,
			"backoff", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("store: writer stopped: %w (last insert error: %v)", ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, w.opts.MaxRetryBackoff)
	}
}

// finish reports err to every batch of group and releases their rows.
func (w *Writer) finish(group []pending, err error) {
	rows := 0
	for _, p := range group {
		rows += len(p.b.Samples)
	}
	var joined []func(error)
	w.mu.Lock()
	for _, p := range group {
		joined = append(joined, w.same.release(p.b)...)
	}
	w.inFlight -= rows
	w.telling++
	close(w.space)
	w.space = make(chan struct{})
	w.mu.Unlock()
	if err == nil && w.observer != nil {
		batches := make([]*store.Batch, len(group))
		for i, p := range group {
			batches[i] = p.b
		}
		w.observer.Committed(batches)
	}
	for _, p := range group {
		p.done(err)
	}
	for _, done := range joined {
		done(err)
	}
	// Drained only once every outcome is told: a Drain that returned
	// before the callbacks ran let a shutdown drop acks of committed batches.
	w.mu.Lock()
	w.telling--
	w.checkDrainedLocked()
	w.mu.Unlock()
}

// abandon stops the Writer and fails everything still queued.
func (w *Writer) abandon(ctx context.Context) {
	w.stop()
	w.mu.Lock()
	group := w.queue
	w.queue = nil
	w.live = 0
	w.queued = 0
	w.mu.Unlock()
	if len(group) == 0 {
		return
	}
	err := ErrStopped
	if ctx.Err() != nil {
		err = fmt.Errorf("%w: %w", ErrStopped, ctx.Err())
	}
	w.logger.Warn("writer stopped with batches pending", "batches", len(group))
	w.finish(group, err)
}

// CommitObserver is told about batches once they are committed, after the
// INSERT holding them succeeded, in the order they were queued (inserts
// that run side by side are told in turn). Committed must not block for
// long: it holds up the acks of every insert.
type CommitObserver interface {
	Committed(batches []*store.Batch)
}
