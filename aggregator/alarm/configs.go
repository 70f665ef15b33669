package alarm

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// newSiteRefresh is the least time between reads of the points of a site
// that sends batches but has none known.
const newSiteRefresh = 2 * time.Second

// changedMargin is how long before the last read began a write still
// counts as a change for the next: inserts in flight while it ran, and
// other aggregators' clocks (each writes its agents' point lists).
const changedMargin = 2 * time.Minute

// configs is a read of point configurations, made off the evaluation
// loop and handed to it whole: every point's, or those of the sites with
// a change since the last read, to lay over the others.
type configs struct {
	points  map[[2]string]*store.PointConfig
	known   map[string]bool
	started time.Time // when the read began (e.opts.Now)
	all     bool
}

// readConfigs reads and compacts every point's configuration. It touches
// nothing of e's state that Run owns, so it runs beside it: at 200,000
// points the read takes seconds of ClickHouse, and on the evaluation loop
// every one of them queued batches until they no longer fit and had to be
// read back (make bench, after the flood runs).
func (e *Evaluator) readConfigs(ctx context.Context) (configs, error) {
	started := e.opts.Now()
	defer e.waited("refresh", time.Now())
	pcs, err := e.st.PointConfigs(ctx)
	if err != nil {
		return configs{}, fmt.Errorf("alarm: point configurations: %w", err)
	}
	return configs{points: compact(pcs), known: sitesOf(pcs), started: started, all: true}, nil
}

// readChanged reads the configurations of the points of sites with a
// change written since since (wall clock) whose fingerprint is not the one
// in read, the sites' fingerprints at the last such read, which it
// updates. Re-reading every point's every RefreshEvery cost the aggregator
// a second of CPU and as much garbage at 200,000 points, to find that
// almost none had changed; re-reading every site changed within the
// margin (minutes) still cost it a tenth of its CPU while agents kept
// connecting (make bench, ingest, 10 agents before and beside 1,000 idle).
func (e *Evaluator) readChanged(ctx context.Context, since time.Time, read map[string]uint64) (configs, error) {
	c := configs{points: map[[2]string]*store.PointConfig{}, known: map[string]bool{}, started: e.opts.Now()}
	defer e.waited("refresh", time.Now())
	changed, err := e.st.ChangedSites(ctx, since)
	if err != nil {
		return configs{}, fmt.Errorf("alarm: sites with changed points: %w", err)
	}
	var sites []string
	for site, fp := range changed {
		if old, ok := read[site]; !ok || old != fp {
			sites = append(sites, site)
		}
	}
	if len(sites) == 0 {
		return c, nil
	}
	pcs, err := e.st.SitesPointConfigs(ctx, sites)
	if err != nil {
		return configs{}, fmt.Errorf("alarm: point configurations of changed sites: %w", err)
	}
	clear(read)
	maps.Copy(read, changed)
	c.points, c.known = compact(pcs), sitesOf(pcs)
	return c, nil
}

// sitesOf returns the sites pcs configure points of.
func sitesOf(pcs []store.PointConfig) map[string]bool {
	known := map[string]bool{}
	for i := range pcs {
		known[intern(pcs[i].SiteID)] = true
	}
	return known
}

// refresh reads every point's configuration (limits, delays, 停用) on the
// evaluation loop: at the start, before anything is evaluated. It returns
// when the read began (wall clock).
func (e *Evaluator) refresh(ctx context.Context) (time.Time, error) {
	began := time.Now()
	c, err := e.readConfigs(ctx)
	if err != nil {
		return began, err
	}
	e.install(c)
	return began, nil
}

// refreshLoop re-reads point configurations every RefreshEvery, those of
// changed sites or, every RefreshAllEvery, every point's, and hands each
// read to Run on out, until ctx ends. One read at a time. lastAll is when
// the read of every point before it began (wall clock).
func (e *Evaluator) refreshLoop(ctx context.Context, out chan<- configs, lastAll time.Time) {
	t := time.NewTicker(e.opts.RefreshEvery)
	defer t.Stop()
	last := lastAll
	read := map[string]uint64{} // the changed sites' fingerprints when last read
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		began := time.Now()
		var c configs
		var err error
		if began.Sub(lastAll) >= e.opts.RefreshAllEvery {
			c, err = e.readConfigs(ctx)
		} else {
			c, err = e.readChanged(ctx, last.Add(-changedMargin), read)
		}
		if err != nil {
			if ctx.Err() == nil {
				e.logger.Warn("re-read point configurations", "err", err)
			}
			continue
		}
		last = began
		if c.all {
			lastAll = began
		}
		select {
		case out <- c:
		case <-ctx.Done():
			return
		}
	}
}

// install makes c the configurations evaluated with, or lays c over them
// when it holds only changed sites'. Sites learned (see learn) after a
// read of every point began keep what was learned: it may predate their
// points.
func (e *Evaluator) install(c configs) {
	if !c.all {
		e.overlay(c.points)
		maps.Copy(e.known, c.known)
		return
	}
	if len(e.learned) > 0 {
		for key, pt := range e.points {
			if at, ok := e.learned[key[0]]; ok && !at.Before(c.started) && pt.cfg != nil {
				c.points[key] = pt.cfg
				c.known[key[0]] = true
			}
		}
		maps.DeleteFunc(e.learned, func(_ string, at time.Time) bool { return at.Before(c.started) })
	}
	for key, pt := range e.points {
		cfg := c.points[key]
		switch {
		case cfg == nil && pt.m == nil:
			delete(e.points, key) // no longer configured, never evaluated
		case cfg != pt.cfg:
			pt.cfg = cfg
			e.points[key] = pt
		}
	}
	for key, cfg := range c.points {
		if _, ok := e.points[key]; !ok {
			e.points[key] = point{cfg: cfg}
		}
	}
	e.known = c.known
}

// overlay lays points over the configurations; the points of their sites
// that points lacks keep theirs until the next read of every point.
func (e *Evaluator) overlay(points map[[2]string]*store.PointConfig) {
	for key, cfg := range points {
		pt := e.points[key]
		pt.cfg = cfg
		e.points[key] = pt
	}
}

// learn reads the points of those of sites not known yet, all in one read:
// a site that has just announced its points gets its limits before its
// first samples are evaluated, without a read of every site's. A site
// still without points is asked again after newSiteRefresh.
func (e *Evaluator) learn(ctx context.Context, sites iter.Seq[string]) {
	now := e.opts.Now()
	var ask []string
	for site := range sites {
		if !e.known[site] && now.Sub(e.asked[site]) >= newSiteRefresh {
			ask = append(ask, site)
			e.asked[site] = now
		}
	}
	if len(ask) == 0 {
		return
	}
	slices.Sort(ask)
	defer e.waited("learn", time.Now())
	pcs, err := e.st.SitesPointConfigs(ctx, ask)
	if err != nil {
		e.logger.Warn("read point configurations of new sites", "sites", len(ask), "first", ask[0], "err", err)
		return
	}
	e.overlay(compact(pcs))
	for site := range sitesOf(pcs) {
		e.known[site] = true
		e.learned[site] = now
		delete(e.asked, site)
	}
}
