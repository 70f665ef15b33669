package forward

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// baseRoundKind is the cursor of a round of base data under way: its
// time (LiveNs), which is in its messages' keys, and the hash of what it
// sends (Pending). A round is written before its first message, so one
// cut short by a failed send or a restart goes on under the same time and
// keys: the platform can drop what it already has.
const baseRoundKind = "base_round"

// baseRound is a round of base data under way.
type baseRound struct {
	at   time.Time
	hash string
	sent map[string]bool // sites the platform accepted (this process)
}

// sendBase sends every reported site's base data when base_every has
// passed since the last time (also across restarts) and whenever it
// changed: a new limit, point or code reaches the platform within a
// minute (the registry refresh).
func (r *runner) sendBase(ctx context.Context, now time.Time) error {
	if r.t.Dest[KindBase] == "" {
		return nil
	}
	hash, err := r.reg.baseHash()
	if err != nil {
		return err
	}
	round := r.baseRound
	if round == nil || round.hash != hash || now.Sub(round.at) >= r.t.BaseEvery {
		// No round under way, or what it sends is out of date.
		if now.Sub(time.Unix(0, r.baseNs)) < r.t.BaseEvery && hash == r.baseHash {
			r.baseRound = nil
			return nil
		}
		round = &baseRound{at: now.Truncate(time.Second), hash: hash, sent: map[string]bool{}}
		// Until it ends, sites may hold what it sends: a return to what
		// the last whole round sent is a change again.
		r.baseHash = ""
		if err := r.recordCursor(ctx, store.ForwardCursor{Target: r.t.Name, Kind: baseRoundKind,
			LiveNs: round.at.UnixNano(), Pending: hash}); err != nil {
			return err
		}
		r.baseRound = round
	}
	at := round.at
	for _, site := range sortedKeys(r.reg.sites) {
		if round.sent[site] {
			continue
		}
		si := r.reg.sites[site]
		base := si.base
		m := &Message{Kind: KindBase, Time: at, Enterprise: si.ent, Base: &base,
			Key: idempotencyKey(r.t.Name, KindBase, site, at.UnixNano())}
		if err := r.sendOrGap(ctx, m, at.UnixNano(), at.UnixNano(), nil); err != nil {
			return err
		}
		round.sent[site] = true
	}
	r.baseNs, r.baseHash, r.baseRound = at.UnixNano(), hash, nil
	return r.recordCursor(ctx, store.ForwardCursor{Target: r.t.Name, Kind: KindBase, LiveNs: r.baseNs, Pending: hash})
}

// baseHash identifies what the base data messages would carry.
func (reg registry) baseHash() (string, error) {
	type siteBase struct {
		Ent  Enterprise
		Base Base
	}
	var all []siteBase
	for _, site := range sortedKeys(reg.sites) {
		all = append(all, siteBase{reg.sites[site].ent, reg.sites[site].base})
	}
	b, err := json.Marshal(all)
	if err != nil {
		return "", fmt.Errorf("base data hash: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), nil
}

// sendHeartbeat tells the platform every heartbeat_every that each
// reported site's link is up. Heartbeats are not kept for later: a missed
// one means the link was down.
func (r *runner) sendHeartbeat(ctx context.Context, now time.Time) {
	if r.t.Dest[KindHeartbeat] == "" || now.Sub(r.heartbeat) < r.t.HeartbeatEvery {
		return
	}
	r.heartbeat = now
	at := now.Truncate(time.Second)
	for _, site := range sortedKeys(r.reg.sites) {
		m := &Message{Kind: KindHeartbeat, Time: at, Enterprise: r.reg.sites[site].ent,
			Key: idempotencyKey(r.t.Name, KindHeartbeat, site, at.UnixNano())}
		if err := r.send(ctx, m); err != nil {
			r.logger.Debug("heartbeat not sent", "site", site, "err", err)
			return
		}
	}
}
