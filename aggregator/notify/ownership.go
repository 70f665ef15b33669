package notify

import (
	"context"
	"fmt"
	"slices"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// Several aggregators may share one ClickHouse. With Owners set, a
// notifier decides and sends only the notifications of the sites its
// aggregator owns (aggregator/owner): the one that evaluates a site's
// alarms pages about them. The outbox is shared and its ids are
// deterministic, so a site that changes owners needs no hand-over: the new
// owner finds the old owner's pending rows and sends them, and re-reads
// the site's alarms over escalation_horizon once, since its own cursor may
// be past alarms the old owner wrote but did not decide. The old owner
// asks ClickHouse right before each send whether the site is still its
// own; what is left is the time one send takes (see docs/alarms.md).

// Owners says which sites this aggregator owns; *owner.Registry is one.
type Owners interface {
	// Held returns every site held and its epoch.
	Held() map[string]uint64
	// Verify returns those of sites ClickHouse still names this
	// aggregator the owner of, with their epochs.
	Verify(ctx context.Context, sites []string) (map[string]uint64, error)
}

// LegacyName is the notify.name every aggregator had by default before
// the name defaulted to the aggregator's node id: a notifier without a
// cursor of its own starts where that one stopped.
const LegacyName = "default"

// owned returns the sites this aggregator owns now, confirmed in
// ClickHouse, and those of them it did not own at the last decide (or
// owns under a new epoch): their alarms are read again over the horizon.
func (n *Notifier) owned(ctx context.Context) (owned map[string]uint64, acquired []string, err error) {
	held := n.opts.Owners.Held()
	sites := make([]string, 0, len(held))
	for s := range held {
		sites = append(sites, s)
	}
	slices.Sort(sites)
	owned, err = n.opts.Owners.Verify(ctx, sites)
	if err != nil {
		return nil, nil, fmt.Errorf("verify owned sites: %w", err)
	}
	for _, s := range sortedKeys(owned) {
		// The next epoch is this aggregator's own new claim (its agent
		// reconnected here): nobody owned the site in between.
		if prev, ok := n.ownedBefore[s]; !ok || (owned[s] != prev && owned[s] != prev+1) {
			acquired = append(acquired, s)
		}
	}
	return owned, acquired, nil
}

// catchUp returns the alarms of the acquired sites evaluated within the
// escalation horizon: the old owner may have stopped deciding them before
// this notifier's cursor reached them.
func (n *Notifier) catchUp(ctx context.Context, acquired []string, alarms []store.NotifyAlarm, activeSinceNs int64) ([]store.NotifyAlarm, error) {
	if len(acquired) == 0 {
		return alarms, nil
	}
	n.logger.Info("sites taken over; deciding their alarms within the escalation horizon", "sites", acquired)
	since := n.opts.Now().Add(-n.cfg.EscalationHorizon)
	more, err := n.alarms.NotifyAlarms(ctx, since, activeSinceNs)
	if err != nil {
		return nil, fmt.Errorf("catch up taken-over sites: %w", err)
	}
	for _, a := range more {
		if slices.Contains(acquired, a.SiteID) {
			alarms = append(alarms, a)
		}
	}
	return alarms, nil
}

// ownedAlarms returns the alarms of owned sites.
func ownedAlarms(alarms []store.NotifyAlarm, owned map[string]uint64) []store.NotifyAlarm {
	out := make([]store.NotifyAlarm, 0, len(alarms))
	for _, a := range alarms {
		if _, ok := owned[a.SiteID]; ok {
			out = append(out, a)
		}
	}
	return out
}

// mayStillSend reports, right before r is sent, whether this notifier is
// to send it: an alarm notification while its site is confirmed owned
// here, a flood summary when this notifier wrote it.
func (n *Notifier) mayStillSend(ctx context.Context, r store.OutboxRow) (bool, error) {
	if n.opts.Owners == nil {
		return true, nil
	}
	if r.Kind == store.OutboxSummary {
		if len(r.ID) == 0 {
			return false, nil
		}
		// A summary id without a notifier name predates ownership: any
		// notifier sends it.
		return r.ID == n.summaryID(r.ID[0], r.Recipient, r.DecidedNs) || r.ID == summaryID(r.ID[0], r.Recipient, r.DecidedNs, ""), nil
	}
	site := r.Alarm.SiteID
	if _, ok := n.opts.Owners.Held()[site]; !ok {
		return false, nil
	}
	ok, err := n.opts.Owners.Verify(ctx, []string{site})
	if err != nil {
		return false, fmt.Errorf("verify site %s before sending: %w", site, err)
	}
	_, mine := ok[site]
	return mine, nil
}

// summaryID is the id of this notifier's summary: with Owners, each
// notifier keeps and sends summaries of its own, so two never rewrite one
// row.
func (n *Notifier) summaryID(kind byte, recipient string, windowNs int64) string {
	if n.opts.Owners == nil {
		return summaryID(kind, recipient, windowNs, "")
	}
	return summaryID(kind, recipient, windowNs, n.cfg.Name)
}
