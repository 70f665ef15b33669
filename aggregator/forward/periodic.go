package forward

import (
	"context"
	"time"
)

// sendBase sends every reported site's base data at start-up when
// base_every has passed since the last time, and every base_every after.
func (r *runner) sendBase(ctx context.Context, now time.Time) error {
	if r.t.Dest[KindBase] == "" || now.Sub(time.Unix(0, r.baseNs)) < r.t.BaseEvery {
		return nil
	}
	at := now.Truncate(time.Second)
	for _, site := range sortedKeys(r.reg.sites) {
		si := r.reg.sites[site]
		base := si.base
		m := &Message{Kind: KindBase, Time: at, Enterprise: si.ent, Base: &base,
			Key: idempotencyKey(r.t.Name, KindBase, site, at.UnixNano())}
		if err := r.sendOrGap(ctx, m, at.UnixNano(), at.UnixNano(), nil); err != nil {
			return err
		}
	}
	r.baseNs = at.UnixNano()
	return r.saveCursor(ctx, KindBase, r.baseNs, nil)
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
