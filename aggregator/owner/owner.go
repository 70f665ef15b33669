// Package owner keeps which sites this aggregator owns: a site's alarms are
// evaluated by the aggregator that claimed it last, under a fenced epoch.
package owner

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/lifeline-telemetry/lifeline/aggregator/groupcommit"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// Several aggregators may share one ClickHouse and any agent may talk to
// any of them. The aggregator an agent's stream reaches claims the site at
// the handshake: a new epoch (the highest plus one) in site_owners. Alarm
// evaluation follows the claim. Before writing alarm events or checkpoint
// rows, the evaluator asks Verify which of its sites it still owns, so an
// aggregator that was paused while another took its sites over finds out
// and writes nothing for them; its checkpoint rows also carry the epoch,
// and a reader takes the highest.

// Store is where claims are kept; *store.Store is one.
type Store interface {
	ClaimSites(ctx context.Context, sites []string, owner string) (map[string]uint64, error)
	SiteOwners(ctx context.Context, sites []string) (map[string]store.SiteOwner, error)
}

// Registry is this aggregator's view of the sites it owns.
type Registry struct {
	st     Store
	id     string
	logger *slog.Logger

	mu   sync.Mutex
	held map[string]uint64

	claims *groupcommit.Group[string, uint64]
}

// New returns the registry of the aggregator named id (stable across its
// restarts, distinct from every other aggregator's). It does no I/O.
func New(st Store, id string, logger *slog.Logger) *Registry {
	r := &Registry{st: st, id: id, logger: logger, held: map[string]uint64{}}
	r.claims = newClaims(r.claimSites)
	return r
}

// ID is the owner name this aggregator claims sites under.
func (r *Registry) ID() string { return r.id }

// Claim takes site over under a new epoch and returns it. Claims made
// while another is being written are written together next (see
// newClaims).
func (r *Registry) Claim(ctx context.Context, site string) (uint64, error) {
	epoch, err := r.claims.Do(ctx, site)
	if err != nil {
		return 0, fmt.Errorf("claim site %s: %w", site, err)
	}
	return epoch, nil
}

// claimSites claims sites in ClickHouse and holds those won.
func (r *Registry) claimSites(ctx context.Context, sites []string) (map[string]uint64, error) {
	won, err := r.st.ClaimSites(ctx, sites, r.id)
	r.mu.Lock()
	prev := make(map[string]uint64, len(won))
	for site, epoch := range won {
		prev[site] = r.held[site]
		r.held[site] = epoch
	}
	r.mu.Unlock()
	for site, epoch := range won {
		r.logger.Info("site claimed", "site", site, "epoch", epoch, "previous_epoch_here", prev[site])
	}
	return won, err
}

// Restore adopts the sites ClickHouse names this aggregator the current
// owner of: after a restart it goes on evaluating them until another
// aggregator claims them.
func (r *Registry) Restore(ctx context.Context) error {
	all, err := r.st.SiteOwners(ctx, nil)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for site, o := range all {
		if o.Owner == r.id {
			r.held[site] = o.Epoch
		}
	}
	return nil
}

// Epoch returns the epoch this aggregator holds site under.
func (r *Registry) Epoch(site string) (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.held[site]
	return e, ok
}

// Held returns every site held and its epoch.
func (r *Registry) Held() map[string]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]uint64, len(r.held))
	for s, e := range r.held {
		out[s] = e
	}
	return out
}

// Verify reads the current owners of sites from ClickHouse and returns
// those this aggregator still owns, with their epochs. A site another
// aggregator took over is dropped from the registry.
func (r *Registry) Verify(ctx context.Context, sites []string) (map[string]uint64, error) {
	cur, err := r.st.SiteOwners(ctx, sites)
	if err != nil {
		return nil, err
	}
	out := make(map[string]uint64, len(sites))
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, site := range sites {
		held, ok := r.held[site]
		o := cur[site]
		if ok && o.Owner == r.id && o.Epoch == held {
			out[site] = held
			continue
		}
		if ok && held <= o.Epoch {
			// A claim of ours newer than what was read (made while the
			// read ran) stays held.
			delete(r.held, site)
			r.logger.Warn("site taken over by another aggregator; no longer evaluating it here",
				"site", site, "epoch_here", held, "owner", o.Owner, "epoch", o.Epoch)
		}
	}
	return out, nil
}
