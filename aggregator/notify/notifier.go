package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/notify/channel"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// Alarms is where alarms are read, and how far the notifier has read.
type Alarms interface {
	NotifyAlarms(ctx context.Context, evaluatedSince time.Time, activeSinceNs int64) ([]store.NotifyAlarm, error)
	NotifyCursor(ctx context.Context, name string) (time.Time, bool, error)
	SaveNotifyCursor(ctx context.Context, name string, at time.Time) error
}

// Outbox is the durable record of every notification's state.
type Outbox interface {
	SaveOutbox(ctx context.Context, rows []store.OutboxRow) error
	OutboxByID(ctx context.Context, ids []string) (map[string]store.OutboxRow, error)
	PendingOutbox(ctx context.Context, dueNs int64) ([]store.OutboxRow, error)
	OutboxAlarmCounts(ctx context.Context, sinceNs int64) (map[string]int, error)
	OutboxPendingCount(ctx context.Context) (uint64, error)
}

// Acknowledger tells which alarms an operator has acknowledged (or
// closed); an escalation step is skipped for those.
type Acknowledger interface {
	Acknowledged(ctx context.Context, keys []store.AlarmKey) (map[store.AlarmKey]bool, error)
}

// Shelves tells which alarms are shelved at a time: nobody is notified of
// them until they are unshelved (or the shelf runs out).
type Shelves interface {
	Shelved(ctx context.Context, keys []store.AlarmKey, at time.Time) (map[store.AlarmKey]bool, error)
}

// Sender delivers one message to one recipient.
type Sender interface {
	Send(ctx context.Context, m channel.Message) error
}

// Options are what tests and the service inject besides the config.
type Options struct {
	Now     func() time.Time // nil: time.Now
	Shelves Shelves          // nil: nothing is shelved
	// AfterDecide, when set, runs after decisions are stored as pending
	// and before any is delivered: the crash window the outbox covers.
	AfterDecide func()
	// Owners, when set, limits deciding and sending to the sites this
	// aggregator owns (ownership.go); nil: every site.
	Owners Owners
}

// Overlap re-reads alarms written this long before the cursor: an insert
// stamps evaluated_at before it becomes visible. The outbox makes the
// re-read harmless.
const Overlap = time.Minute

// Notifier turns alarms into delivered notifications.
type Notifier struct {
	cfg     Config
	alarms  Alarms
	outbox  Outbox
	acks    Acknowledger
	senders map[string]Sender
	opts    Options
	metrics *Metrics
	logger  *slog.Logger

	cursor      time.Time
	cursorKnown bool
	lastVersion uint64
	// known holds ids already in the outbox, for the alarms of the last
	// read, so that a standing alarm does not cost a lookup every poll.
	known map[string]bool
	// ownedBefore holds the sites owned at the last decide that stored
	// its decisions, with their epochs (with Options.Owners); nil before.
	ownedBefore map[string]uint64
}

// New returns a notifier; it does no I/O. senders are keyed by recipient
// name (see NewSenders).
func New(cfg Config, alarms Alarms, outbox Outbox, acks Acknowledger, senders map[string]Sender, opts Options,
	metrics *Metrics, logger *slog.Logger) *Notifier {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Notifier{cfg: cfg, alarms: alarms, outbox: outbox, acks: acks, senders: senders, opts: opts,
		metrics: metrics, logger: logger, known: map[string]bool{}}
}

// Run polls until ctx is done. A failed poll is logged and retried at the
// next one; nothing is lost, since the cursor and the outbox only advance
// after the work they record.
func (n *Notifier) Run(ctx context.Context) error {
	t := time.NewTicker(n.cfg.Poll)
	defer t.Stop()
	for {
		if err := n.Poll(ctx); err != nil && ctx.Err() == nil {
			n.logger.Warn("notification poll failed; retrying", "err", err, "retry_in", n.cfg.Poll)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Poll reads new and standing alarms, decides and stores the
// notifications they call for, then delivers what is due.
func (n *Notifier) Poll(ctx context.Context) error {
	// What was decided before is delivered even when deciding fails now
	// (acknowledgements unreadable, say).
	decideErr := n.decide(ctx)
	if n.opts.AfterDecide != nil && decideErr == nil {
		n.opts.AfterDecide()
	}
	if err := n.deliver(ctx); err != nil {
		return errors.Join(decideErr, err)
	}
	if decideErr != nil {
		return decideErr
	}
	pending, err := n.outbox.OutboxPendingCount(ctx)
	if err != nil {
		return err
	}
	n.metrics.pending.Set(float64(pending))
	return nil
}

func (n *Notifier) decide(ctx context.Context) error {
	now := n.opts.Now()
	if err := n.loadCursor(ctx, now); err != nil {
		return err
	}
	var owned map[string]uint64
	var acquired []string
	if n.opts.Owners != nil {
		var err error
		if owned, acquired, err = n.owned(ctx); err != nil {
			return err
		}
	}
	activeSince := now.Add(-n.cfg.EscalationHorizon).UnixNano()
	read, err := n.alarms.NotifyAlarms(ctx, n.cursor.Add(-Overlap), activeSince)
	if err != nil {
		return err
	}
	alarms := read
	if n.opts.Owners != nil {
		if alarms, err = n.catchUp(ctx, acquired, read, activeSince); err != nil {
			return err
		}
		alarms = ownedAlarms(alarms, owned)
	}
	cands, err := n.newCandidates(ctx, alarms, now)
	if err != nil {
		return err
	}
	rows, err := n.floodRows(ctx, cands, now)
	if err != nil {
		return err
	}
	if err := n.outbox.SaveOutbox(ctx, rows); err != nil {
		return err
	}
	for _, c := range cands {
		n.known[c.id] = true
	}
	if owned != nil {
		n.ownedBefore = owned
	}
	// The cursor passes the alarms of sites owned elsewhere too: should
	// one come here later, catchUp reads it again.
	return n.advanceCursor(ctx, read)
}

// loadCursor reads the durable read position once. A notifier without one
// starts where the notifier of the former default name stopped, else a
// minute back: a first start does not page the whole alarm history.
func (n *Notifier) loadCursor(ctx context.Context, now time.Time) error {
	if n.cursorKnown {
		return nil
	}
	at, ok, err := n.alarms.NotifyCursor(ctx, n.cfg.Name)
	if err != nil {
		return err
	}
	if !ok && n.cfg.Name != LegacyName {
		if at, ok, err = n.alarms.NotifyCursor(ctx, LegacyName); err != nil {
			return err
		}
	}
	if !ok {
		at = now.Add(-Overlap)
		// The sites owned now are where this notifier starts, not sites it
		// took over.
		if n.opts.Owners != nil {
			owned, _, err := n.owned(ctx)
			if err != nil {
				return err
			}
			n.ownedBefore = owned
		}
	}
	n.cursor, n.cursorKnown = at, true
	return nil
}

// newCandidates returns the notifications due now that the outbox does
// not hold yet, less those for acknowledged alarms.
func (n *Notifier) newCandidates(ctx context.Context, alarms []store.NotifyAlarm, now time.Time) ([]candidate, error) {
	var all []candidate
	seen := map[string]bool{}
	for _, a := range alarms {
		for _, c := range n.cfg.candidates(a, now) {
			if !seen[c.id] {
				seen[c.id] = true
				all = append(all, c)
			}
		}
	}
	for id := range n.known {
		if !seen[id] {
			delete(n.known, id)
		}
	}
	var ask []string
	for _, c := range all {
		if !n.known[c.id] {
			ask = append(ask, c.id)
		}
	}
	existing, err := n.outbox.OutboxByID(ctx, ask)
	if err != nil {
		return nil, err
	}
	var fresh []candidate
	var keys []store.AlarmKey
	for _, c := range all {
		if _, ok := existing[c.id]; ok {
			n.known[c.id] = true
		} else if !n.known[c.id] {
			fresh = append(fresh, c)
			keys = append(keys, c.alarm.Key())
		}
	}
	if len(fresh) == 0 {
		return nil, nil
	}
	acked, err := n.acks.Acknowledged(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("acknowledgements: %w", err)
	}
	shelved := map[store.AlarmKey]bool{}
	if n.opts.Shelves != nil {
		if shelved, err = n.opts.Shelves.Shelved(ctx, keys, now); err != nil {
			return nil, fmt.Errorf("shelved alarms: %w", err)
		}
	}
	// Neither is recorded: the next poll asks again, so an alarm
	// unshelved while still active is notified then.
	return slices.DeleteFunc(fresh, func(c candidate) bool { return acked[c.alarm.Key()] || shelved[c.alarm.Key()] }), nil
}

// advanceCursor records the newest evaluated_at read, after the
// decisions it led to are stored.
func (n *Notifier) advanceCursor(ctx context.Context, alarms []store.NotifyAlarm) error {
	newest := n.cursor
	for _, a := range alarms {
		if a.EvaluatedAt.After(newest) {
			newest = a.EvaluatedAt
		}
	}
	if !newest.After(n.cursor) {
		return nil
	}
	if err := n.alarms.SaveNotifyCursor(ctx, n.cfg.Name, newest); err != nil {
		return err
	}
	n.cursor = newest
	return nil
}

// version returns a row version larger than prev and every version this
// notifier wrote before.
func (n *Notifier) version(prev uint64) uint64 {
	v := max(uint64(n.opts.Now().UnixNano()), prev+1, n.lastVersion+1)
	n.lastVersion = v
	return v
}
