package alarm

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// With several aggregators on one ClickHouse, each site's alarms are
// evaluated by the one aggregator that owns the site (see package
// aggregator/owner). The evaluator then holds state only for the sites it
// owns: it adopts a site when it starts to own it (the site's checkpoint
// is read back, the batches committed since are re-evaluated, and the
// state is written again under the new epoch), forgets it when it no
// longer does, and before every write of events or checkpoint rows asks
// ClickHouse which of their sites are still its own, writing nothing for
// the others. The former owner's events still pending in its checkpoint
// are written again by the adopter; written twice, they collapse.

// Owners says which sites this aggregator owns.
type Owners interface {
	// Epoch returns the epoch this aggregator holds site under.
	Epoch(site string) (uint64, bool)
	// Held returns every site held and its epoch.
	Held() map[string]uint64
	// Verify returns those of sites ClickHouse still names this
	// aggregator the owner of, with their epochs.
	Verify(ctx context.Context, sites []string) (map[string]uint64, error)
}

// SiteStore reads the checkpoint of some sites; *store.Store is one. Only
// an evaluator with Owners needs it.
type SiteStore interface {
	LoadSitesAlarmStates(ctx context.Context, sites []string) ([]store.AlarmState, error)
}

// own reports whether the evaluator owns site now, adopting it first if it
// took the site over since it last looked.
func (e *Evaluator) own(ctx context.Context, site string) bool {
	if e.opts.Owners == nil {
		return true
	}
	epoch, adopt, ok := e.ownership(site)
	if !ok {
		return false
	}
	if adopt {
		return e.adopt(ctx, map[string]uint64{site: epoch}) == nil
	}
	return true
}

// ownership tells whether the evaluator owns site now and under which
// epoch, and whether it must adopt it first; a site no longer owned is
// forgotten.
func (e *Evaluator) ownership(site string) (epoch uint64, adopt, ok bool) {
	epoch, ok = e.opts.Owners.Epoch(site)
	if !ok {
		if _, had := e.adopted[site]; had {
			e.forget(site)
		}
		return 0, false, false
	}
	if cur, had := e.adopted[site]; had && (cur == epoch || cur+1 == epoch) {
		// The next epoch is this aggregator's own new claim (its agent
		// reconnected here): nobody owned the site in between, so the
		// state in memory is the newest there is.
		e.adopted[site] = epoch
		return epoch, false, true
	}
	return epoch, true, true
}

// adoptOwned adopts, together, those of sites this evaluator owns but has
// not adopted yet.
func (e *Evaluator) adoptOwned(ctx context.Context, sites map[string]bool) {
	if e.opts.Owners == nil {
		return
	}
	todo := map[string]uint64{}
	for site := range sites {
		if epoch, adopt, ok := e.ownership(site); ok && adopt {
			todo[site] = epoch
		}
	}
	_ = e.adopt(ctx, todo) // logged; each site is retried at its next batch or tick
}

// adopt makes sites this evaluator's under their epochs: their state is
// read from the checkpoint, the batches committed since are evaluated, and
// every restored row is marked for the next checkpoint so it is rewritten
// under the new epoch. All sites are read in a few queries, however many.
func (e *Evaluator) adopt(ctx context.Context, epochs map[string]uint64) error {
	if len(epochs) == 0 {
		return nil
	}
	defer e.waited("adopt", time.Now())
	sites := slices.Sorted(maps.Keys(epochs))
	err := e.adoptSites(ctx, sites, epochs)
	if err != nil {
		for _, site := range sites {
			e.forget(site)
		}
		e.failed()
		e.logger.Warn("take over the alarm state of sites; will retry", "sites", len(sites), "first", sites[0], "err", err)
		return err
	}
	if len(sites) == 1 {
		e.logger.Info("site's alarm evaluation taken over", "site", sites[0], "epoch", epochs[sites[0]])
	} else {
		e.logger.Info("sites' alarm evaluation taken over", "sites", len(sites), "first", sites[0])
	}
	return nil
}

func (e *Evaluator) adoptSites(ctx context.Context, sites []string, epochs map[string]uint64) error {
	ss, ok := e.st.(SiteStore)
	if !ok {
		return fmt.Errorf("store cannot read sites' checkpoints")
	}
	for _, site := range sites {
		if _, had := e.adopted[site]; had {
			e.forget(site) // only adopted sites have state in memory
		}
	}
	rows, err := ss.LoadSitesAlarmStates(ctx, sites)
	if err != nil {
		return err
	}
	e.restore(rows)
	for _, r := range rows {
		if m := e.points[[2]string{r.SiteID, r.PointID}].m; r.PointID != "" && m != nil {
			m.touch(true)
		}
	}
	for _, site := range sites {
		e.adopted[site] = epochs[site]
		e.dirtySites[site] = true
	}
	return e.replaySites(ctx, sites)
}

// restore loads checkpoint rows into memory.
func (e *Evaluator) restore(rows []store.AlarmState) {
	for _, s := range rows {
		if s.PointID == "" {
			ss := &siteState{}
			if err := json.Unmarshal([]byte(s.State), ss); err != nil {
				e.logger.Warn("unreadable site alarm state; starting afresh", "site", s.SiteID, "err", err)
				continue
			}
			e.sites[s.SiteID] = ss
			// Events saved with the state but perhaps never written.
			for _, p := range ss.Pending {
				e.outbox = append(e.outbox, p.event(s.SiteID))
			}
			if len(ss.Pending) > 0 {
				ss.Pending = nil
				e.dirtySites[s.SiteID] = true
			}
			continue
		}
		m := &machine{}
		if err := json.Unmarshal([]byte(s.State), m); err != nil {
			e.logger.Warn("unreadable point alarm state; starting afresh", "site", s.SiteID, "point", s.PointID, "err", err)
			continue
		}
		key := internKey([2]string{s.SiteID, s.PointID})
		pt := e.points[key]
		pt.m = m
		e.points[key] = pt
	}
}

// forgetAll drops every site's state held in memory, unwritten events too.
func (e *Evaluator) forgetAll() {
	clear(e.sites)
	clear(e.adopted)
	clear(e.dirtySites)
	e.dropMachines(func(string) bool { return true })
	clear(e.outbox)
	e.outbox = e.outbox[:0]
}

// forget drops everything held in memory for site, unwritten events too.
func (e *Evaluator) forget(site string) {
	delete(e.sites, site)
	delete(e.adopted, site)
	delete(e.dirtySites, site)
	e.dropMachines(func(s string) bool { return s == site })
	e.outbox = slices.DeleteFunc(e.outbox, func(ev store.AlarmEvent) bool { return ev.SiteID == site })
}

// dropMachines drops the state machines of the sites of, keeping the
// points' configurations: the sites' agents may come back.
func (e *Evaluator) dropMachines(of func(site string) bool) {
	for key, pt := range e.points {
		switch {
		case pt.m == nil || !of(key[0]):
		case pt.cfg == nil:
			delete(e.points, key)
		default:
			pt.m = nil
			e.points[key] = pt
		}
	}
}

// adoptHeld adopts the sites held but not yet adopted (claimed while their
// agent sends nothing, or restored after a restart) and forgets those no
// longer held.
func (e *Evaluator) adoptHeld(ctx context.Context) {
	if e.opts.Owners == nil {
		return
	}
	held := e.opts.Owners.Held()
	for site := range e.adopted {
		if _, ok := held[site]; !ok {
			e.forget(site)
		}
	}
	sites := make(map[string]bool, len(held))
	for site := range held {
		sites[site] = true
	}
	e.adoptOwned(ctx, sites)
}

// fence asks ClickHouse which of the sites about to be written are still
// this evaluator's, forgets the others (their unwritten rows with them),
// and returns the epochs to write under, of the sites kept only. Without
// Owners every site is written under epoch 0.
func (e *Evaluator) fence(ctx context.Context, sites map[string]bool) (map[string]uint64, error) {
	if e.opts.Owners == nil || len(sites) == 0 {
		return nil, nil
	}
	list := make([]string, 0, len(sites))
	for s := range sites {
		list = append(list, s)
	}
	owned, err := e.opts.Owners.Verify(ctx, list)
	if err != nil {
		return nil, fmt.Errorf("verify site ownership: %w", err)
	}
	for _, s := range list {
		ep, ok := owned[s]
		if ok && ep == e.adopted[s]+1 {
			e.adopted[s] = ep // its own new claim; see own
		}
		if !ok || ep != e.adopted[s] {
			e.fenced.Add(1)
			e.logger.Warn("site no longer ours; its unwritten alarm rows are dropped", "site", s, "epoch", e.adopted[s])
			e.forget(s)
			// Claimed here again after another owner (an epoch
			// further on): what memory holds predates that owner.
			delete(owned, s)
		}
	}
	return owned, nil
}
