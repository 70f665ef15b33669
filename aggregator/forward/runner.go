package forward

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// runner forwards one target. Its state is owned by its run goroutine.
type runner struct {
	t      Target
	loc    *time.Location
	st     Store
	tr     Transport
	enc    Encrypter
	tpl    *templates
	codes  atomic.Pointer[codeBook]
	m      *metrics
	logger *slog.Logger
	now    func() time.Time

	reg       registry // refreshed every refresh_every
	refreshed time.Time

	live    int64 // realtime: everything from live on is unsent
	pending spans // realtime: missed periods before live
	sent    uint64
	tokens  float64 // backlog periods that may be sent now
	tokenAt time.Time

	// failedAt is when a send last failed for a reason that may pass (the
	// platform down); zero once one succeeds.
	failedAt time.Time

	alarmNs   int64        // alarm rows evaluated before this were handled
	alarmWin  *alarmWindow // the window the passes are reading, if one is unfinished
	alarmAt   time.Time
	baseNs    int64      // when base data was last sent
	baseHash  string     // and what it held (baseHash)
	baseRound *baseRound // a round of base data under way
	heartbeat time.Time
}

func newRunner(t Target, st Store, dial Dialer, m *metrics, logger *slog.Logger) (*runner, error) {
	loc, err := time.LoadLocation(t.Location)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.Name, err)
	}
	r := &runner{t: t, loc: loc, st: st, m: m, logger: logger, now: time.Now}
	r.codes.Store(newCodeBook(nil))
	if r.tpl, err = loadTemplates(t, loc, &r.codes); err != nil {
		return nil, err
	}
	if r.tr, r.enc, err = dial(t, logger); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *runner) close() {
	if err := r.tr.Close(); err != nil {
		r.logger.Warn("close transport", "err", err)
	}
}

// run forwards until ctx is done. Store and platform errors are logged and
// retried; run returns only when ctx ends or the cursor is unreadable.
func (r *runner) run(ctx context.Context) error {
	if err := r.loadCursors(ctx); err != nil {
		return err
	}
	if rt, ok := r.tr.(runnable); ok {
		// The connection lives as long as run; close (after run) stops it.
		var wg sync.WaitGroup
		defer wg.Wait()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		wg.Go(func() {
			if err := rt.Run(ctx); err != nil && ctx.Err() == nil {
				r.logger.Error("transport stopped", "err", err)
			}
		})
		return r.loop(ctx)
	}
	return r.loop(ctx)
}

// runnable is a transport that keeps a connection while Run runs (MQTT).
type runnable interface {
	Run(ctx context.Context) error
}

func (r *runner) loop(ctx context.Context) error {
	r.logger.Info("forwarding", "transport", r.t.Transport, "period", r.t.Period, "live", time.Unix(0, r.live).UTC(),
		"backlog_s", r.pending.total())
	for {
		if err := r.step(ctx); err != nil && ctx.Err() == nil {
			r.logger.Warn("forward step", "err", err)
		}
		wait := time.Second
		if len(r.pending) > 0 {
			wait = min(wait, time.Duration(float64(time.Second)/r.t.BacklogRate))
		}
		wait = min(wait, r.t.Period/2)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// step does what is due: registry refresh, base data, the live period,
// alarms, the heartbeat and a share of the backlog. Live data goes before
// the backlog.
func (r *runner) step(ctx context.Context) error {
	now := r.now()
	if now.Sub(r.refreshed) >= r.t.RefreshEvery {
		if err := r.refresh(ctx); err != nil {
			return err
		}
		r.refreshed = now
	}
	if err := r.sendBase(ctx, now); err != nil {
		return err
	}
	if err := r.sendLive(ctx, now); err != nil {
		return err
	}
	if err := r.sendAlarms(ctx, now); err != nil {
		return err
	}
	r.sendHeartbeat(ctx, now)
	return r.sendBacklog(ctx, now)
}

func (r *runner) loadCursors(ctx context.Context) error {
	cs, err := r.st.ForwardCursors(ctx, r.t.Name)
	if err != nil {
		return err
	}
	now := r.now()
	if c, ok := cs[KindRealtime]; ok {
		r.live, r.sent = c.LiveNs, c.Sent
		if r.pending, err = parseSpans(c.Pending); err != nil {
			return fmt.Errorf("target %s: cursor: %w", r.t.Name, err)
		}
	} else {
		due := r.due(now)
		r.live = due - r.t.Period.Nanoseconds()
		if r.t.InitialBacklog > 0 {
			from := r.align(now.Add(-r.t.InitialBacklog).UnixNano())
			r.pending = r.pending.add(span{from, r.live})
		}
	}
	if c, ok := cs[KindAlarm]; ok {
		r.alarmNs = c.LiveNs
	} else {
		r.alarmNs = now.Add(-r.t.InitialBacklog).Truncate(time.Second).UnixNano()
	}
	if c, ok := cs[KindBase]; ok {
		r.baseNs, r.baseHash = c.LiveNs, c.Pending
	}
	if c, ok := cs[baseRoundKind]; ok && c.LiveNs > r.baseNs {
		// Cut short: whatever the registry holds now is sent, even what
		// the last whole round sent, since some sites got this one's.
		r.baseRound = &baseRound{at: time.Unix(0, c.LiveNs), hash: c.Pending, sent: map[string]bool{}}
		r.baseHash = ""
	}
	r.observe(now)
	return nil
}

// due is the end of the newest period whose values are all in by now.
func (r *runner) due(now time.Time) int64 { return r.align(now.Add(-r.t.Delay).UnixNano()) }

func (r *runner) align(ns int64) int64 {
	p := r.t.Period.Nanoseconds()
	return ns - ((ns%p)+p)%p
}

// send renders m, encrypts and sends it. A permanent refusal is returned
// as such for the caller to record as a gap.
func (r *runner) send(ctx context.Context, m *Message) error {
	m.Target, m.Now = r.t.Name, r.now()
	dest, payload, err := r.tpl.render(m)
	if err != nil {
		return &PermanentError{Err: err}
	}
	if r.enc != nil {
		if payload, err = r.enc.Encrypt(payload); err != nil {
			return &PermanentError{Err: fmt.Errorf("encrypt %s payload: %w", m.Kind, err)}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, r.t.Timeout)
	defer cancel()
	began := time.Now()
	if err := r.tr.Send(ctx, dest, payload); err != nil {
		r.m.failed.WithLabelValues(r.t.Name, m.Kind).Inc()
		if !isPermanent(err) {
			r.failedAt = r.now()
		}
		return fmt.Errorf("send %s %s: %w", m.Kind, m.Key, err)
	}
	r.failedAt = time.Time{}
	r.m.sent.WithLabelValues(r.t.Name, m.Kind).Inc()
	r.logger.Debug("sent", "kind", m.Kind, "key", m.Key, "time", m.Time.UTC(), "took", time.Since(began))
	return nil
}

func (r *runner) saveCursor(ctx context.Context, kind string, live int64, pending spans) error {
	c := store.ForwardCursor{Target: r.t.Name, Kind: kind, LiveNs: live}
	if kind == KindRealtime {
		c.Pending, c.BacklogS, c.Sent = pending.String(), pending.total(), r.sent
	}
	return r.recordCursor(ctx, c)
}

// cursorSaveTimeout bounds recording what was sent once the forwarder is
// stopping.
const cursorSaveTimeout = 5 * time.Second

// recordCursor saves c even while ctx is being cancelled: what the
// platform accepted must be recorded, or a graceful stop would send it
// again after the restart.
func (r *runner) recordCursor(ctx context.Context, c store.ForwardCursor) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cursorSaveTimeout)
	defer cancel()
	return r.st.SaveForwardCursor(ctx, c)
}

// observe updates the lag gauges from the realtime cursor.
func (r *runner) observe(now time.Time) {
	lag := now.Sub(time.Unix(0, r.live)).Seconds()
	oldest := r.live
	if len(r.pending) > 0 {
		oldest = r.pending[0].from
	}
	r.m.lag.WithLabelValues(r.t.Name).Set(lag)
	r.m.cursorAge.WithLabelValues(r.t.Name).Set(now.Sub(time.Unix(0, oldest)).Seconds())
	r.m.backlog.WithLabelValues(r.t.Name).Set(r.pending.total())
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
