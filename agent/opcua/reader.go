package opcua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Sink receives the samples the reader produces, one call per OPC UA
// notification message. Calls come from the reader's own goroutine, one at
// a time, so Write must not block for long: a slow sink delays the next
// publish request. The reader does not touch the slice or the samples after
// Write returns.
type Sink interface {
	Write(samples []*lifelinev1.Sample)
}

// Timeouts for the steps of a connection. Publish requests are bounded by
// the subscription's watchdog instead.
const (
	dialTimeout    = 5 * time.Second
	connectTimeout = 20 * time.Second
	callTimeout    = 15 * time.Second
	closeTimeout   = 2 * time.Second
)

// Reader reads the points of one source. Create it with New and start it
// with Run; Stats may be called from any goroutine.
type Reader struct {
	// src is the source as Run's goroutine applies it; its Points are
	// indexed by handle and include removed points (see update.go). base
	// is the source as created, for the settings that never change.
	src    config.Source
	base   config.Source
	sink   Sink
	logger *slog.Logger

	// gone[h] marks point h removed by Update. Only Run's goroutine uses it.
	gone []bool
	// pending is the source Update handed over, not yet taken by Run;
	// updated signals it.
	updateMu  sync.Mutex
	pending   *config.Source
	updateGen uint64
	updated   chan struct{}
	applied   atomic.Uint64

	sessions      atomic.Uint64
	subsCreated   atomic.Uint64
	itemsCreated  atomic.Uint64
	itemsModified atomic.Uint64
	itemsDeleted  atomic.Uint64
	monitoredNow  atomic.Int64

	running atomic.Bool

	received   atomic.Uint64
	reconnects atomic.Uint64
	fallbacks  atomic.Uint64
	connected  atomic.Bool
	badItems   atomic.Int64
	unresolved atomic.Int64

	heartbeats        atomic.Uint64
	heartbeatFailures atomic.Uint64
	skewNs            atomic.Int64
	skewKnown         atomic.Bool
	polls             atomic.Uint64
	deadSubscriptions atomic.Uint64
	outages           atomic.Uint64
	// readingSinceNs is when the current session started delivering
	// (Unix ns; 0 while not reading).
	readingSinceNs atomic.Int64
	// condEvents counts condition events delivered (see events.go).
	condEvents atomic.Uint64

	// outage follows the source's unavailability (see outage.go).
	outage outage

	// heartbeatEvery is the heartbeat period (heartbeatEvery by default).
	heartbeatEvery time.Duration
	// monitorPause is the pause between CreateMonitoredItems calls
	// (monitorPause by default), so that a large point list does not
	// flood a weak server.
	monitorPause time.Duration
	states       *pointStates

	// problems holds the last problem logged per point index, so that each
	// is logged once and not on every reconnect. Only Run's goroutine uses it.
	problems map[int]string
	// fellBack marks points whose source time was not the SourceTimestamp
	// (logged once per point). Only Run's goroutine uses it.
	fellBack map[int]bool

	// History backfill (see backfill.go): historyDir holds the state file,
	// stoppedGap is the span the agent was stopped, hist is the state Run
	// loaded (nil with backfill off), noHistory is set once the server is
	// known to keep no history. deliverMu makes the backfill's writes and
	// the live ones reach the sink one at a time; live notes the first
	// live value of each point in the current session.
	historyDir string
	stoppedGap *lifelinev1.Gap
	hist       *historyState
	noHistory  atomic.Bool
	deliverMu  sync.Mutex
	live       atomic.Pointer[liveMarks]
	// liveIDs are the points not removed by Update, published by Run for
	// the goroutines that must not read r.src (the backfill's gap records).
	liveIDs          atomic.Pointer[[]string]
	historyRecovered atomic.Uint64
	backfills        atomic.Uint64
	historyProbes    atomic.Uint64 // reads of Historizing and the capability
	history          historyLimits

	// livenessEvery is the span of a liveness record (see alive.go).
	livenessEvery time.Duration
}

// Option adjusts a Reader.
type Option func(*Reader)

// WithHistoryDir keeps the reader's history backfill state (the newest
// source time stored per point, the gap records waiting for backfill) in
// dir, the agent's buffer directory. Without it, or with the source's
// history_backfill off, the reader does no backfill.
func WithHistoryDir(dir string) Option { return func(r *Reader) { r.historyDir = dir } }

// WithStoppedGap hands the reader the span the agent was stopped (an
// agent_stopped gap): the reader reads it back from the server's history
// and records the gap, for its own points, saying what it recovered. It
// needs WithHistoryDir and the source's history_backfill on.
func WithStoppedGap(g *lifelinev1.Gap) Option { return func(r *Reader) { r.stoppedGap = g } }

// Stats is a snapshot of a reader's counters.
type Stats struct {
	// Received counts samples delivered to the sink.
	Received uint64
	// Connected is true while a session with a live subscription exists.
	Connected bool
	// Reconnects counts how often the reader gave up a connection, or an
	// attempt to make one, and tried again.
	Reconnects uint64
	// BadItems is how many points the server refused to monitor on the
	// current (or last) connection, e.g. with BadNodeIdUnknown.
	BadItems int
	// Unresolved is how many points could not be resolved against the
	// server's namespace array on the current (or last) connection.
	Unresolved int
	// SourceTimeFallbacks counts samples that carried no SourceTimestamp,
	// whose source time is the ServerTimestamp or the receive time instead.
	SourceTimeFallbacks uint64
	// LastData is when the last sample was received (zero before the
	// first).
	LastData time.Time
	// ClockSkew is the server's clock minus the agent's, measured by the
	// last heartbeat read of the server's CurrentTime; SkewKnown is false
	// until one succeeded.
	ClockSkew time.Duration
	SkewKnown bool
	// Heartbeats and HeartbeatFailures count reads of the server's
	// CurrentTime; heartbeatMisses failures in a row rebuild the session.
	Heartbeats        uint64
	HeartbeatFailures uint64
	// Polls counts poll cycles (read_mode poll).
	Polls uint64
	// DeadSubscriptions counts subscriptions found silently dead: keep-alives
	// kept coming, but a point's value changed on the server (as read by the
	// heartbeat) and the subscription did not deliver it in time. Each one
	// rebuilt the session.
	DeadSubscriptions uint64
	// Outages counts spans during which the source could not be read,
	// each recorded as a source_unavailable gap; DownSince is when the
	// current one began (zero while the source is read).
	Outages   uint64
	DownSince time.Time
	// ReadingSince is when the current session started delivering (zero
	// while the source is not read).
	ReadingSince time.Time
	// Sessions counts sessions opened; SubscriptionsCreated, the
	// subscriptions created on them; ItemsCreated, ItemsModified and
	// ItemsDeleted, the monitored-item operations the server accepted.
	// Monitored is how many items are live now. A point-list change applied
	// by Update moves the item counters only.
	Sessions             uint64
	SubscriptionsCreated uint64
	ItemsCreated         uint64
	ItemsModified        uint64
	ItemsDeleted         uint64
	Monitored            int
	// Applied is the generation of the last Update in effect (0 before any).
	Applied uint64
	// Backfills counts history backfills run after a stop or an outage;
	// HistoryRecovered the samples they read back from the server.
	Backfills        uint64
	HistoryRecovered uint64
	// ConditionEvents counts the alarm and condition events delivered
	// (events enabled), refresh copies included.
	ConditionEvents uint64
}

// New returns a reader for src that delivers samples to sink. It does no
// I/O; a nil logger discards log output.
func New(src config.Source, sink Sink, logger *slog.Logger, opts ...Option) *Reader {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	src.Points = slices.Clone(src.Points)
	r := &Reader{
		src:      src,
		base:     src,
		gone:     make([]bool, len(src.Points)),
		updated:  make(chan struct{}, 1),
		sink:     sink,
		logger:   logger.With("source", src.Name, "endpoint", src.Endpoint),
		problems: map[int]string{},
		fellBack: map[int]bool{},

		heartbeatEvery: heartbeatEvery,
		monitorPause:   monitorPause,
		states:         newPointStates(pointIDs(src.Points)),
		history:        defaultHistoryLimits(),
		livenessEvery:  livenessEvery,
	}
	ids := pointIDs(src.Points)
	r.liveIDs.Store(&ids)
	for _, o := range opts {
		o(r)
	}
	return r
}

// HistoryEnabled reports whether the reader backfills from the server's
// history (and so records the gaps of its source itself).
func (r *Reader) HistoryEnabled() bool {
	return r.historyDir != "" && r.base.HistoryBackfill != "off"
}

func pointIDs(points []config.Point) []string {
	ids := make([]string, len(points))
	for i, p := range points {
		ids[i] = p.ID
	}
	return ids
}

// Stats returns the reader's counters.
func (r *Reader) Stats() Stats {
	st := Stats{
		Received:             r.received.Load(),
		Connected:            r.connected.Load(),
		Reconnects:           r.reconnects.Load(),
		BadItems:             int(r.badItems.Load()),
		Unresolved:           int(r.unresolved.Load()),
		SourceTimeFallbacks:  r.fallbacks.Load(),
		ClockSkew:            time.Duration(r.skewNs.Load()),
		SkewKnown:            r.skewKnown.Load(),
		Heartbeats:           r.heartbeats.Load(),
		HeartbeatFailures:    r.heartbeatFailures.Load(),
		Polls:                r.polls.Load(),
		DeadSubscriptions:    r.deadSubscriptions.Load(),
		Outages:              r.outages.Load(),
		DownSince:            r.outage.down(),
		Backfills:            r.backfills.Load(),
		HistoryRecovered:     r.historyRecovered.Load(),
		Sessions:             r.sessions.Load(),
		SubscriptionsCreated: r.subsCreated.Load(),
		ItemsCreated:         r.itemsCreated.Load(),
		ItemsModified:        r.itemsModified.Load(),
		ItemsDeleted:         r.itemsDeleted.Load(),
		Monitored:            int(r.monitoredNow.Load()),
		Applied:              r.applied.Load(),
		ConditionEvents:      r.condEvents.Load(),
	}
	if ns := r.readingSinceNs.Load(); ns != 0 && st.Connected {
		st.ReadingSince = time.Unix(0, ns)
	}
	r.states.mu.Lock()
	if r.states.lastNs != 0 {
		st.LastData = time.Unix(0, r.states.lastNs)
	}
	r.states.mu.Unlock()
	return st
}

// Run reads the source until ctx is done. It connects, reads the namespace
// array, resolves every point, subscribes and delivers samples to the sink;
// on any failure (dial error, lost channel or session, a subscription the
// server reports dead, no publish response within the watchdog period) it
// closes the client and connects again after a jittered exponential backoff
// between the source's ReconnectMin and ReconnectMax.
//
// Run owns reconnection: gopcua's own auto-reconnect is turned off, so every
// connection starts from scratch and re-resolves node IDs against the
// namespace array the server has now.
//
// Run returns nil once ctx is done and the client is closed. It returns an
// error only for a problem retrying cannot fix, such as an unsupported
// security setting (ErrUnsupportedSecurity), or when called while already
// running.
func (r *Reader) Run(ctx context.Context) error {
	if _, _, err := securityOptions(r.src); err != nil {
		return err
	}
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("opcua: Run called while the reader is already running")
	}
	defer r.running.Store(false)
	if r.HistoryEnabled() {
		stopSaving := r.startHistory(ctx)
		defer stopSaving()
	} else if r.historyDir != "" {
		r.recordLeftPending()
	}
	if lr, ok := r.sink.(LivenessRecorder); ok {
		lctx, stopLiveness := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.runLiveness(lctx, lr)
		}()
		defer func() { stopLiveness(); <-done }()
	}
	if er, ok := r.sink.(ConditionEventRecorder); ok && r.base.Events.Enabled {
		ectx, stopEvents := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.runEvents(ectx, er)
		}()
		defer func() { stopEvents(); <-done }()
	}
	r.outage.starting(time.Now())
	defer r.stopped()

	bo := newBackoff(r.src.ReconnectMin.D(), r.src.ReconnectMax.D())
	for {
		healthy, err := r.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrUnsupportedSecurity) {
			return err
		}
		r.outage.lost(time.Now())
		if healthy {
			bo.Reset()
		}
		delay := bo.Delay()
		r.reconnects.Add(1)
		r.logger.Warn("OPC UA connection failed; reconnecting", "err", err, "retry_in", delay.Round(time.Millisecond))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// session runs one connection from dial to failure. healthy reports whether
// the subscription delivered at least one publish response, which resets
// the backoff.
func (r *Reader) session(ctx context.Context) (healthy bool, err error) {
	sub := newSubscriptionParams(r.src.PublishingInterval.D())
	c, err := newClient(ctx, r.src, sub.requestTimeout())
	if err != nil {
		return false, err
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	err = c.Connect(cctx)
	cancel()
	if err != nil {
		closeClient(ctx, c)
		return false, connectError(r.src, err)
	}
	defer closeClient(ctx, c)
	r.sessions.Add(1)
	r.adoptPending()

	cctx, cancel = context.WithTimeout(ctx, callTimeout)
	info, err := readServerInfo(cctx, c)
	cancel()
	if err != nil {
		return false, err
	}
	nodes := r.resolve(info.namespaces)

	// The heartbeat runs beside the subscription or the poll loop and
	// ends the session when the server stops answering.
	hctx, stopHeartbeat := context.WithCancel(ctx)
	var hbErr error
	hbDone := make(chan struct{})
	var live atomic.Pointer[liveCheck]
	go func() {
		defer close(hbDone)
		r.heartbeat(hctx, c, r.heartbeatEvery, &live, func(err error) {
			hbErr = err
			stopHeartbeat()
		})
	}()
	defer func() {
		stopHeartbeat()
		<-hbDone
		if hbErr != nil && ctx.Err() == nil {
			err = hbErr
		}
	}()

	if r.src.ReadMode == "poll" {
		r.reading()
		defer r.notReading(ctx)
		defer r.startBackfill(hctx, c, info, nodes)()
		r.logger.Info("OPC UA polling running", "namespaces", len(info.namespaces), "points", r.livePoints(),
			"unresolved", r.unresolved.Load(), "poll_interval", r.src.PollInterval)
		return r.poll(hctx, c, info, nodes)
	}

	s, err := r.subscribe(hctx, c, sub, info, nodes)
	if err != nil {
		return false, err
	}
	defer s.delete(ctx)
	s.live = &live
	live.Store(newLiveCheck(s, nodes))
	r.reading()
	defer r.notReading(ctx)
	defer r.startBackfill(hctx, c, info, nodes)()
	r.logger.Info("OPC UA subscription running",
		"namespaces", len(info.namespaces), "points", r.livePoints(), "monitored", s.monitoredCount(), "subscriptions", len(s.subs),
		"unresolved", r.unresolved.Load(), "refused", r.badItems.Load(),
		"publishing_interval", s.publishingInterval, "keep_alive", s.keepAlive, "watchdog", s.watchdog)
	return s.run(hctx)
}

// newClient builds a gopcua client for src with gopcua's auto-reconnect
// turned off (the reader reconnects by itself). For a secure channel or a
// non-anonymous user it first fetches and verifies the server's endpoint
// (see clientSecurity).
func newClient(ctx context.Context, src config.Source, requestTimeout time.Duration) (*opcua.Client, error) {
	sec, err := clientSecurity(ctx, src)
	if err != nil {
		return nil, err
	}
	opts := append([]opcua.Option{
		opcua.AutoReconnect(false),
		opcua.DialTimeout(dialTimeout),
		opcua.RequestTimeout(requestTimeout),
		opcua.SessionTimeout(max(time.Minute, 2*requestTimeout)),
		opcua.ApplicationName("lifeline-agent"),
		opcua.ProductURI("urn:lifeline-telemetry"),
		opcua.SessionName("lifeline-agent " + src.Name),
	}, sec...)
	c, err := opcua.NewClient(src.Endpoint, opts...)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", src.Endpoint, err)
	}
	return c, nil
}

// closeClient closes the session (which deletes its subscription on the
// server) and the channel, giving a server that no longer answers at most
// closeTimeout.
func closeClient(ctx context.Context, c *opcua.Client) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	_ = c.Close(cctx)
}

// problem logs a point's problem once: again only when it changes.
func (r *Reader) problem(i int, msg string, args ...any) {
	text := fmt.Sprint(append([]any{msg}, args...)...)
	if r.problems[i] == text {
		return
	}
	r.problems[i] = text
	p := r.src.Points[i]
	r.logger.Warn(msg, append([]any{"point", p.ID, "node", p.Node}, args...)...)
}

// recovered forgets a point's logged problem, logging the recovery.
func (r *Reader) recovered(i int) {
	if _, ok := r.problems[i]; !ok {
		return
	}
	delete(r.problems, i)
	p := r.src.Points[i]
	r.logger.Info("point monitored again", "point", p.ID, "node", p.Node)
}
