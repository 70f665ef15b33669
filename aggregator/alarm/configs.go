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

// configs is a read of every point's configuration, made off the
// evaluation loop and handed to it whole.
type configs struct {
	points  map[[2]string]*store.PointConfig
	known   map[string]bool
	started time.Time // when the read began (aggregator clock)
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
	return configs{points: compact(pcs), known: sitesOf(pcs), started: started}, nil
}

// sitesOf returns the sites pcs configure points of.
func sitesOf(pcs []store.PointConfig) map[string]bool {
	known := map[string]bool{}
	for i := range pcs {
		known[intern(pcs[i].SiteID)] = true
	}
	return known
}

// refresh re-reads the point configurations (limits, delays, 停用) on the
// evaluation loop: at the start, before anything is evaluated.
func (e *Evaluator) refresh(ctx context.Context) error {
	c, err := e.readConfigs(ctx)
	if err != nil {
		return err
	}
	e.install(c)
	return nil
}

// refreshLoop re-reads the point configurations every RefreshEvery and
// hands each read to Run on out, until ctx ends. One read at a time.
func (e *Evaluator) refreshLoop(ctx context.Context, out chan<- configs) {
	t := time.NewTicker(e.opts.RefreshEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c, err := e.readConfigs(ctx)
		if err != nil {
			if ctx.Err() == nil {
				e.logger.Warn("re-read point configurations", "err", err)
			}
			continue
		}
		select {
		case out <- c:
		case <-ctx.Done():
			return
		}
	}
}

// install makes c the configurations evaluated with. Sites learned (see
// learn) after c's read began keep what was learned: c may predate their
// points.
func (e *Evaluator) install(c configs) {
	if len(e.learned) > 0 {
		for key, pc := range e.points {
			if at, ok := e.learned[key[0]]; ok && !at.Before(c.started) {
				c.points[key] = pc
				c.known[key[0]] = true
			}
		}
		maps.DeleteFunc(e.learned, func(_ string, at time.Time) bool { return at.Before(c.started) })
	}
	e.points, e.known = c.points, c.known
	e.configsChanged()
}

// configsChanged makes every machine look its configuration up again.
func (e *Evaluator) configsChanged() {
	e.configsGen++
	if e.configsGen == 0 {
		e.configsGen = 1
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
	maps.Copy(e.points, compact(pcs))
	e.configsChanged()
	for site := range sitesOf(pcs) {
		e.known[site] = true
		e.learned[site] = now
		delete(e.asked, site)
	}
}
