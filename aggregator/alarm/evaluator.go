package alarm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Store is what the evaluator reads and writes; *store.Store is one.
type Store interface {
	PointConfigs(ctx context.Context) ([]store.PointConfig, error)
	SaveAlarmEvents(ctx context.Context, events []store.AlarmEvent) error
	SaveAlarmStates(ctx context.Context, states []store.AlarmState) error
	LoadAlarmStates(ctx context.Context) ([]store.AlarmState, error)
	LatestSeq(ctx context.Context, siteID string) (uint64, error)
	ReplayBatches(ctx context.Context, siteID string, from, to uint64, fn func(*store.Batch) error) error
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
	// and events written; CheckpointEvery how often state is saved;
	// RefreshEvery how often point configurations are re-read.
	Tick, CheckpointEvery, RefreshEvery time.Duration
	// Grace is how late (aggregator clock) a sample may arrive before a
	// delay is decided without it.
	Grace time.Duration
	// MaxQueuedSamples bounds the samples waiting for evaluation; beyond
	// it, batches are dropped from the queue and re-read from ClickHouse.
	MaxQueuedSamples int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
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
		Grace:            2 * time.Second,
		MaxQueuedSamples: 1_000_000,
	}
}

// historyIdleTicks: ticks without back-filled input after which the
// history machines close their open alarms.
const historyIdleTicks = 30

// progressEvery is how much source time a quiet point (nothing active or
// pending) may advance before its state is checkpointed again. After a
// restart such a point may look up to this much older, which only matters
// to staleness.
const progressEvery = time.Minute

// newSiteRefresh is the least time between refreshes caused by batches of
// a site without known points.
const newSiteRefresh = 2 * time.Second

// maxSeqRanges bounds the remembered evaluated batches per site.
const maxSeqRanges = 64

// item is one unit of work for Run: a batch, or a sync request.
type item struct {
	batch *store.Batch
	sync  chan error
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

	raised, cleared atomic.Uint64

	// Owned by Run.
	points  map[[2]string]*store.PointConfig
	sites   map[string]*siteState
	states  map[[2]string]*machine
	dirty   map[[2]string]bool  // changed since the checkpoint; true: more than the clock
	saved   map[[2]string]int64 // LastNs of each point at its last checkpoint
	outbox  []store.AlarmEvent
	lastCkp time.Time
	lastRef time.Time
	lastHb  time.Time
	known   map[string]bool // sites with points in the last refresh
	metrics *Metrics
}

// siteState is the per-site part of the checkpoint.
type siteState struct {
	Done      []seqRange `json:"done,omitempty"` // evaluated batches
	LastBatch int64      `json:"last,omitempty"` // last batch or heartbeat, aggregator clock, ns
	CommLoss  *cond      `json:"comm,omitempty"`
}

type seqRange struct{ First, Last uint64 }

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
	if opts.MaxQueuedSamples <= 0 {
		opts.MaxQueuedSamples = d.MaxQueuedSamples
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Evaluator{
		st: st, opts: opts, logger: logger,
		queue:   make(chan item, 4096),
		dropped: map[string]seqRange{},
		points:  map[[2]string]*store.PointConfig{},
		sites:   map[string]*siteState{},
		states:  map[[2]string]*machine{},
		dirty:   map[[2]string]bool{},
		saved:   map[[2]string]int64{},
	}
}

// Counts returns how many alarms this evaluator raised and cleared.
func (e *Evaluator) Counts() (raised, cleared uint64) { return e.raised.Load(), e.cleared.Load() }

// Committed queues committed batches for evaluation without blocking. A
// batch that does not fit is remembered by sequence number and read back
// from ClickHouse later; so are the site's next batches until then, so a
// site's batches are evaluated in order.
func (e *Evaluator) Committed(batches []*store.Batch) {
	for _, b := range batches {
		n := int64(len(b.Samples))
		e.dropMu.Lock()
		r, behind := e.dropped[b.SiteID]
		e.dropMu.Unlock()
		if !behind && (e.queued.Add(n) <= int64(e.opts.MaxQueuedSamples) || n == 0) {
			select {
			case e.queue <- item{batch: b}:
				continue
			default:
			}
		}
		if !behind {
			e.queued.Add(-n)
		}
		if e.metrics != nil {
			e.metrics.dropped.Inc()
		}
		e.dropMu.Lock()
		r, behind = e.dropped[b.SiteID]
		if !behind {
			r = seqRange{b.Seq, b.Seq}
		}
		r.First, r.Last = min(r.First, b.Seq), max(r.Last, b.Seq)
		e.dropped[b.SiteID] = r
		e.dropMu.Unlock()
	}
}

// Sync waits until everything queued before it is evaluated, its events
// written and the state checkpointed.
func (e *Evaluator) Sync(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case e.queue <- item{sync: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

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
			e.handle(ctx, it)
		case <-tick.C:
			e.tick(ctx)
		}
	}
}

// start loads configurations and the checkpoint, then evaluates the
// batches committed since the checkpoint.
func (e *Evaluator) start(ctx context.Context) error {
	if err := e.refresh(ctx); err != nil {
		return err
	}
	states, err := e.st.LoadAlarmStates(ctx)
	if err != nil {
		return err
	}
	for _, s := range states {
		if s.PointID == "" {
			ss := &siteState{}
			if err := json.Unmarshal([]byte(s.State), ss); err != nil {
				e.logger.Warn("unreadable site alarm state; starting afresh", "site", s.SiteID, "err", err)
				continue
			}
			e.sites[s.SiteID] = ss
			continue
		}
		m := &machine{}
		if err := json.Unmarshal([]byte(s.State), m); err != nil {
			e.logger.Warn("unreadable point alarm state; starting afresh", "site", s.SiteID, "point", s.PointID, "err", err)
			continue
		}
		e.states[[2]string{s.SiteID, s.PointID}] = m
	}
	for site, ss := range e.sites {
		latest, err := e.st.LatestSeq(ctx, site)
		if err != nil {
			return err
		}
		if err := e.replay(ctx, site, ss, latest); err != nil {
			return err
		}
	}
	e.lastCkp = e.opts.Now()
	return e.checkpoint(ctx)
}

// replay evaluates the committed batches of site up to latest that the
// checkpoint does not list as evaluated.
func (e *Evaluator) replay(ctx context.Context, site string, ss *siteState, latest uint64) error {
	from := uint64(1)
	if len(ss.Done) > 0 {
		from = ss.Done[0].Last + 1 // the first batch not known evaluated
	}
	if latest < from {
		return nil
	}
	n := 0
	err := e.st.ReplayBatches(ctx, site, from, latest, func(b *store.Batch) error {
		if ss.done(b.Seq) {
			return nil
		}
		n++
		e.replayedOne()
		e.evaluateBatch(ctx, b, false)
		return nil
	})
	if n > 0 {
		e.logger.Info("re-evaluated batches committed while not evaluated", "site", site, "batches", n)
	}
	return err
}

func (e *Evaluator) handle(ctx context.Context, it item) {
	if it.sync != nil {
		e.drainQueue(ctx)
		e.replayDropped(ctx)
		it.sync <- e.checkpoint(ctx)
		return
	}
	e.queued.Add(-int64(len(it.batch.Samples)))
	e.evaluateBatch(ctx, it.batch, true)
}

// drainQueue evaluates every batch already queued (not sync requests
// queued behind them, which are answered in order).
func (e *Evaluator) drainQueue(ctx context.Context) {
	for {
		select {
		case it := <-e.queue:
			if it.sync != nil {
				it.sync <- e.checkpoint(ctx)
				continue
			}
			e.queued.Add(-int64(len(it.batch.Samples)))
			e.evaluateBatch(ctx, it.batch, true)
		default:
			return
		}
	}
}

func (e *Evaluator) replayDropped(ctx context.Context) {
	e.dropMu.Lock()
	dropped := e.dropped
	e.dropped = map[string]seqRange{}
	e.dropMu.Unlock()
	for site, r := range dropped {
		ss := e.site(site)
		if err := e.st.ReplayBatches(ctx, site, r.First, r.Last, func(b *store.Batch) error {
			if !ss.done(b.Seq) {
				e.replayedOne()
				// These batches arrived since the last tick: live.
				e.evaluateBatch(ctx, b, true)
			}
			return nil
		}); err != nil {
			e.logger.Warn("re-read dropped batches", "site", site, "err", err)
			e.dropMu.Lock()
			if cur, ok := e.dropped[site]; ok {
				r.First, r.Last = min(r.First, cur.First), max(r.Last, cur.Last)
			}
			e.dropped[site] = r
			e.dropMu.Unlock()
		}
	}
}

func (e *Evaluator) site(id string) *siteState {
	ss := e.sites[id]
	if ss == nil {
		ss = &siteState{}
		e.sites[id] = ss
	}
	return ss
}

// evaluateBatch runs a batch through the state machines once; a batch
// already evaluated is skipped. live means it arrived just now (so it
// proves the site is communicating).
func (e *Evaluator) evaluateBatch(ctx context.Context, b *store.Batch, live bool) {
	ss := e.site(b.SiteID)
	if ss.done(b.Seq) {
		return
	}
	ss.add(b.Seq)
	e.dirty[[2]string{b.SiteID, ""}] = true
	if live {
		now := e.opts.Now().UnixNano()
		ss.LastBatch = now
		if ss.CommLoss != nil {
			p := &store.PointConfig{SiteID: b.SiteID}
			c := ss.CommLoss
			ss.CommLoss = nil
			e.emit(c.event(p.SiteID, "", CommLoss, max(now, c.RaisedNs), math.NaN(), "connected"))
		}
	}
	// A site that just announced its points: read them now rather than
	// at the next refresh, so its first samples meet their limits.
	if !e.known[b.SiteID] && e.opts.Now().Sub(e.lastRef) >= newSiteRefresh {
		if err := e.refresh(ctx); err != nil {
			e.logger.Warn("read point configurations of a new site", "site", b.SiteID, "err", err)
		}
	}
	for _, smp := range b.Samples {
		key := [2]string{b.SiteID, smp.GetPointId()}
		p := e.points[key]
		if p == nil {
			p = &store.PointConfig{SiteID: b.SiteID, PointID: smp.GetPointId()}
		}
		s := sample{ts: smp.GetSourceTimeNs(), good: smp.GetStatus()>>30 == 0, backfill: b.Backfill}
		s.value, s.numeric = sampleNumber(smp)
		m := e.states[key]
		if m == nil {
			m = &machine{}
			e.states[key] = m
		}
		d := e.delaysFor(p)
		quiet := len(m.Conds) == 0 && m.History == nil
		switch {
		case s.ts == m.LastNs:
			continue // a duplicate of the newest sample
		case s.ts > m.LastNs:
			m.evaluate(p, s, d, e.emit)
		default:
			if m.History == nil {
				m.History = &machine{}
			}
			m.HistoryIdle = 0
			if s.ts <= m.History.LastNs {
				continue
			}
			s.backfill = true
			m.History.evaluate(p, s, d, e.emit)
		}
		// A point with nothing active or pending only moved its clock:
		// checkpointed every progressEvery of source time, not each time.
		significant := !quiet || len(m.Conds) > 0 || m.History != nil
		e.dirty[key] = e.dirty[key] || significant
	}
}

func (e *Evaluator) replayedOne() {
	if e.metrics != nil {
		e.metrics.replayed.Inc()
	}
}

func (e *Evaluator) failed() {
	if e.metrics != nil {
		e.metrics.failures.Inc()
	}
}

func (e *Evaluator) emit(ev store.AlarmEvent) {
	if ev.Active {
		e.raised.Add(1)
		if e.metrics != nil {
			e.metrics.raised.WithLabelValues(ev.Condition).Inc()
		}
	} else {
		e.cleared.Add(1)
		if e.metrics != nil {
			e.metrics.cleared.WithLabelValues(ev.Condition).Inc()
		}
	}
	e.outbox = append(e.outbox, ev)
}

// tick decides delays, staleness and communication loss on the clock, and
// writes events; every CheckpointEvery it checkpoints, every RefreshEvery
// it re-reads point configurations.
func (e *Evaluator) tick(ctx context.Context) {
	now := e.opts.Now()
	nowNs := now.UnixNano()
	decided := nowNs - int64(e.opts.Grace)
	for key, m := range e.states {
		p := e.points[key]
		if p == nil {
			p = &store.PointConfig{SiteID: key[0], PointID: key[1]}
		}
		before := len(e.outbox)
		m.elapse(p, decided, e.delaysFor(p), e.emit)
		staleAfter := pick(e.opts.StaleAfter, p.StaleAfter)
		ss := e.sites[key[0]]
		commLost := ss != nil && ss.CommLoss != nil
		if staleAfter > 0 && m.LastNs > 0 && !commLost && !outOfService(p, nowNs) &&
			decided-m.LastNs >= staleAfter && (m.Conds[Stale] == nil || !m.Conds[Stale].Active) {
			m.raise(p, Stale, m.cond(Stale), m.LastNs+staleAfter, m.LastValue, math.NaN(), 0, false, e.emit)
		}
		if m.History != nil {
			m.HistoryIdle++
			if m.HistoryIdle >= historyIdleTicks {
				m.History.closeAll(p, m.History.LastNs, "backfill_end", e.emit)
				m.History = nil
				m.HistoryIdle = 0
				e.dirty[key] = true
			}
		}
		if len(e.outbox) != before {
			e.dirty[key] = true
		}
	}
	e.heartbeats(ctx, now)
	if e.opts.CommLossAfter > 0 {
		for id, ss := range e.sites {
			if ss.CommLoss == nil && ss.LastBatch > 0 && nowNs-ss.LastBatch >= int64(e.opts.CommLossAfter) {
				c := &cond{Active: true, RaisedNs: ss.LastBatch + int64(e.opts.CommLossAfter)}
				ss.CommLoss = c
				e.emit(c.event(id, "", CommLoss, 0, 0, ""))
				e.dirty[[2]string{id, ""}] = true
			}
		}
	}
	e.replayDropped(ctx)
	if err := e.flush(ctx); err != nil {
		e.failed()
		e.logger.Warn("write alarm events; will retry", "events", len(e.outbox), "err", err)
		return
	}
	if now.Sub(e.lastCkp) >= e.opts.CheckpointEvery {
		if err := e.checkpoint(ctx); err != nil {
			e.failed()
			e.logger.Warn("checkpoint alarm state; will retry", "err", err)
		}
	}
	if now.Sub(e.lastRef) >= e.opts.RefreshEvery {
		if err := e.refresh(ctx); err != nil {
			e.logger.Warn("re-read point configurations", "err", err)
		}
	}
}

func (e *Evaluator) refresh(ctx context.Context) error {
	pcs, err := e.st.PointConfigs(ctx)
	if err != nil {
		return fmt.Errorf("alarm: point configurations: %w", err)
	}
	points := make(map[[2]string]*store.PointConfig, len(pcs))
	known := map[string]bool{}
	for i := range pcs {
		points[[2]string{pcs[i].SiteID, pcs[i].PointID}] = &pcs[i]
		known[pcs[i].SiteID] = true
	}
	e.points, e.known = points, known
	e.lastRef = e.opts.Now()
	return nil
}

// flush writes the pending events.
func (e *Evaluator) flush(ctx context.Context) error {
	if len(e.outbox) == 0 {
		return nil
	}
	if err := e.st.SaveAlarmEvents(ctx, e.outbox); err != nil {
		return err
	}
	clear(e.outbox)
	e.outbox = e.outbox[:0]
	return nil
}

// checkpoint writes pending events, then the state of every point and
// site that changed: after a crash, re-evaluation from the checkpoint
// rewrites the same events, never different ones.
func (e *Evaluator) checkpoint(ctx context.Context) error {
	if err := e.flush(ctx); err != nil {
		return fmt.Errorf("alarm: write events: %w", err)
	}
	if len(e.dirty) == 0 {
		e.lastCkp = e.opts.Now()
		return nil
	}
	rows := make([]store.AlarmState, 0, len(e.dirty))
	var keys [][2]string
	for key, significant := range e.dirty {
		var v any
		if key[1] == "" {
			v = e.sites[key[0]]
		} else {
			m := e.states[key]
			if !significant && m.LastNs-e.saved[key] < int64(progressEvery) {
				continue
			}
			v = m
		}
		keys = append(keys, key)
		data, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("alarm: encode state of %s/%s: %w", key[0], key[1], err)
		}
		rows = append(rows, store.AlarmState{SiteID: key[0], PointID: key[1], State: string(data)})
	}
	if err := e.st.SaveAlarmStates(ctx, rows); err != nil {
		return fmt.Errorf("alarm: checkpoint: %w", err)
	}
	for _, key := range keys {
		delete(e.dirty, key)
		if key[1] != "" {
			e.saved[key] = e.states[key].LastNs
		}
	}
	e.lastCkp = e.opts.Now()
	return nil
}

func (ss *siteState) done(seq uint64) bool {
	for _, r := range ss.Done {
		if seq >= r.First && seq <= r.Last {
			return true
		}
	}
	return false
}

// add records seq as evaluated, merging ranges and keeping at most
// maxSeqRanges (the oldest ranges merge: their holes count as evaluated).
func (ss *siteState) add(seq uint64) {
	rs := append(ss.Done, seqRange{seq, seq})
	// Insertion sort of the new range, then merge neighbours.
	for i := len(rs) - 1; i > 0 && rs[i].First < rs[i-1].First; i-- {
		rs[i], rs[i-1] = rs[i-1], rs[i]
	}
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && r.First <= out[n-1].Last+1 {
			out[n-1].Last = max(out[n-1].Last, r.Last)
			continue
		}
		out = append(out, r)
	}
	for len(out) > maxSeqRanges {
		out[1].First = out[0].First
		out = out[1:]
	}
	ss.Done = out
}

// sampleNumber returns the value limits are compared with: numbers as is,
// bools as 0/1; text and missing values are not numeric.
func sampleNumber(smp *lifelinev1.Sample) (float64, bool) {
	switch v := smp.GetValue().(type) {
	case *lifelinev1.Sample_Number:
		return v.Number, !math.IsNaN(v.Number) && !math.IsInf(v.Number, 0)
	case *lifelinev1.Sample_Flag:
		if v.Flag {
			return 1, true
		}
		return 0, true
	default:
		return math.NaN(), false
	}
}

// delaysFor returns the on- and off-delay of p: its own, or the default.
func (e *Evaluator) delaysFor(p *store.PointConfig) delays {
	return delays{on: pick(e.opts.OnDelay, p.OnDelay), off: pick(e.opts.OffDelay, p.OffDelay)}
}

// pick returns a point's own duration in ns when set (negative: off), or
// the default.
func pick(def, own time.Duration) int64 {
	switch {
	case own < 0:
		return 0
	case own > 0:
		return int64(own)
	}
	return int64(def)
}

// heartbeatEvery is how often agent heartbeats are read (comm_loss,
// frozen); heartbeatWindow how far back at least.
const (
	heartbeatEvery  = 10 * time.Second
	heartbeatWindow = 5 * time.Minute
)

// heartbeats counts a connected agent's heartbeat (the agents table) as a
// sign of life like a batch: a plant whose values all hold steady sends no
// batches but is not out of communication. A heartbeat newer than an
// active comm_loss clears it.
func (e *Evaluator) heartbeats(ctx context.Context, now time.Time) {
	if now.Sub(e.lastHb) < heartbeatEvery {
		return
	}
	e.lastHb = now
	last, err := e.st.LastHeartbeats(ctx, now.Add(-max(2*e.opts.CommLossAfter, heartbeatWindow)))
	if err != nil {
		e.logger.Warn("read agent heartbeats", "err", err)
		return
	}
	for id, hb := range last {
		e.frozen(id, hb.Frozen, now.UnixNano())
		ns := hb.LastNs
		ss := e.site(id)
		if ns <= ss.LastBatch {
			continue
		}
		ss.LastBatch = ns
		e.dirty[[2]string{id, ""}] = true
		if c := ss.CommLoss; c != nil && ns > c.RaisedNs {
			ss.CommLoss = nil
			e.emit(c.event(id, "", CommLoss, ns, math.NaN(), "connected"))
		}
	}
}

// frozen raises "frozen" for the points a site's agent reports good but
// unchanging, and clears it for those it no longer reports. The agent
// judges freezing (it sees every sample); the aggregator keeps the alarm.
func (e *Evaluator) frozen(site string, points []string, nowNs int64) {
	reported := make(map[string]bool, len(points))
	for _, id := range points {
		reported[id] = true
	}
	for key, m := range e.states {
		if key[0] != site {
			continue
		}
		p := e.points[key]
		if p == nil {
			p = &store.PointConfig{SiteID: key[0], PointID: key[1]}
		}
		c := m.Conds[Frozen]
		active := c != nil && c.Active
		switch {
		case reported[key[1]] && !active && !outOfService(p, nowNs):
			m.raise(p, Frozen, m.cond(Frozen), nowNs, m.LastValue, math.NaN(), 0, false, e.emit)
			e.dirty[key] = true
		case !reported[key[1]] && active:
			m.clear(p, Frozen, c, nowNs, m.LastValue, "changing", e.emit)
			e.dirty[key] = true
		}
	}
}
