package notify

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/notify/channel"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// sendTimeout bounds one delivery, so a hung receiver cannot stall the rest.
const sendTimeout = 30 * time.Second

// deliver sends every pending notification that is due (with Owners: of
// the sites owned here) and records each outcome at once: the smaller the gap between a receiver's acceptance
// and the 'sent' row, the smaller the chance of a duplicate after a crash.
func (n *Notifier) deliver(ctx context.Context) error {
	rows, err := n.outbox.PendingOutbox(ctx, n.opts.Now().UnixNano())
	if err != nil {
		return err
	}
	for _, r := range rows {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Checked right before the send: an aggregator whose site was
		// taken over since the read leaves the row to the new owner.
		if mine, err := n.mayStillSend(ctx, r); err != nil {
			return err
		} else if !mine {
			continue
		}
		if err := n.outbox.SaveOutbox(ctx, []store.OutboxRow{n.send(ctx, r)}); err != nil {
			return err
		}
	}
	return nil
}

// send delivers r and returns its next state: sent, pending again later,
// or failed for good.
func (n *Notifier) send(ctx context.Context, r store.OutboxRow) store.OutboxRow {
	next := r
	next.Attempts++
	kind := n.cfg.Recipients[r.Recipient].Type
	s, ok := n.senders[r.Recipient]
	var err error
	if !ok {
		err = &channel.PermanentError{Err: errUnknownRecipient(r.Recipient)}
	} else {
		msg := channel.Message{ID: r.ID, Subject: r.Subject, Text: r.Text, Markdown: r.Markdown}
		if r.Data != "" {
			msg.Data = json.RawMessage(r.Data)
		}
		sendCtx, cancel := context.WithTimeout(ctx, sendTimeout)
		err = s.Send(sendCtx, msg)
		cancel()
	}
	next.Version = n.version(r.Version)
	if err == nil {
		next.State, next.Error = store.OutboxSent, ""
		n.metrics.sent.WithLabelValues(kind).Inc()
		return next
	}
	n.metrics.failed.WithLabelValues(kind).Inc()
	next.Error = err.Error()
	if channel.IsPermanent(err) || int(next.Attempts) >= n.cfg.Retry.MaxAttempts {
		next.State = store.OutboxFailed
		n.logger.Error("notification given up", "id", r.ID, "recipient", r.Recipient, "attempts", next.Attempts, "err", err)
		return next
	}
	backoff := min(n.cfg.Retry.Backoff<<min(next.Attempts-1, 16), time.Hour)
	next.DueNs = n.opts.Now().Add(backoff).UnixNano()
	n.logger.Warn("notification not delivered; will retry", "id", r.ID, "recipient", r.Recipient,
		"attempts", next.Attempts, "retry_in", backoff, "err", err)
	return next
}

type errUnknownRecipient string

func (e errUnknownRecipient) Error() string {
	return "recipient " + strconv.Quote(string(e)) + " is no longer configured"
}

func itoa(i int) string { return strconv.Itoa(i) }
