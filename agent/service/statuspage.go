package service

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/opcua"
	"github.com/lifeline-telemetry/lifeline/agent/statuspage"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// statusView is the status page's view of a running pipeline.
type statusView struct {
	a *Agent
	p *pipeline

	// index holds, per live source and point, the lower-case text a
	// filter searches, built at the first poll that sees the source:
	// lowering 100,000 points' text on every poll would cost more than the
	// rest of the snapshot. A reload that changes a source's points makes
	// a new liveSource, so a stale entry is never read; it is dropped.
	mu    sync.Mutex
	index map[*liveSource][]string
}

// StatusPageAddr returns the status page's bound address once Run has
// started it ("" when it is off or could not bind).
func (a *Agent) StatusPageAddr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.page == nil {
		return ""
	}
	return a.page.Addr()
}

// serveStatusPage starts the status page. The page is a convenience for
// the technician at the PC: when its port is taken the agent logs why and
// goes on collecting, because no page is worth a minute of lost data.
func (a *Agent) serveStatusPage(ctx context.Context, p *pipeline) (stop func()) {
	page := statuspage.New(a.cfg.StatusPage, &statusView{a: a, p: p}, a.logger.With("component", "statuspage"))
	if err := page.Start(ctx); err != nil {
		a.logger.Error("status page not served; collection goes on without it", "err", err)
		return func() {}
	}
	if addr := page.Addr(); addr != "" {
		a.logger.Info("status page", "url", "http://"+addr+"/")
	}
	a.mu.Lock()
	a.page = page
	a.mu.Unlock()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = page.Shutdown(ctx)
	}
}

// recordGap keeps a gap for the page as the batcher records it.
func (a *Agent) recordGap(g *lifelinev1.Gap) {
	a.journal.RecordGap(statuspage.Gap{
		Recorded: time.Now(), Reason: g.GetReason(), Samples: g.GetSamples(), Points: len(g.GetPointIds()),
		From: time.Unix(0, g.GetFromNs()), To: time.Unix(0, g.GetToNs()),
	})
}

// StatusSnapshot implements statuspage.Snapshotter.
func (v *statusView) StatusSnapshot(f statuspage.Filter) statuspage.Status {
	a, p, now := v.a, v.p, time.Now()
	cfg := a.currentConfig()
	us := p.uplink.Stats()
	b := a.backlog(p)
	st := statuspage.Status{
		Now: now, Version: a.version,
		Site: statuspage.Site{ID: cfg.Site.ID, Name: cfg.Site.Name, Park: cfg.Site.Park},
		Uplink: statuspage.Uplink{Address: strings.Join(cfg.Aggregator.Targets(), ", "), Connected: us.Connected, Draining: us.Draining,
			Aggregator: us.Aggregator, Preferred: us.Preferred, Failovers: us.Failovers},
		Backlog: statuspage.Backlog{Batches: b.Batches, Bytes: b.Bytes, Samples: b.Samples,
			OldestAgeSeconds: b.OldestAge.Seconds(), RatePerSecond: b.Rate, ETASeconds: b.ETA.Seconds()},
		Errors: a.journal.Events(),
		Gaps:   a.journal.Gaps(),
	}
	hazards := make(map[string]string, len(cfg.HazardSources))
	for _, h := range cfg.HazardSources {
		hazards[h.Code] = h.Name
	}
	sources := p.sources.snapshot()
	index := v.indexes(sources, hazards)
	left := f.Limit
	for _, ls := range sources {
		src := v.source(ls, st.Errors, now)
		src.Points, src.PointsMatched = v.points(ls, index[ls], hazards, f.Query, left)
		left -= len(src.Points)
		st.Sources = append(st.Sources, src)
	}
	return st
}

// indexes returns the search text of every source's points, building it
// for sources not seen before and forgetting those no longer running.
func (v *statusView) indexes(sources []*liveSource, hazards map[string]string) map[*liveSource][]string {
	v.mu.Lock()
	defer v.mu.Unlock()
	next := make(map[*liveSource][]string, len(sources))
	for _, ls := range sources {
		idx, ok := v.index[ls]
		if !ok {
			idx = make([]string, len(ls.cfg.Points))
			for j, pt := range ls.cfg.Points {
				idx[j] = strings.ToLower(strings.Join([]string{pt.ID, pt.Name, pt.Description, pt.Equipment,
					pt.HazardSource, hazards[pt.HazardSource]}, "\x00"))
			}
		}
		next[ls] = idx
	}
	v.index = next
	return next
}

func (v *statusView) source(ls *liveSource, events []statuspage.Event, now time.Time) statuspage.Source {
	cfg := ls.cfg
	rs := ls.reader.Stats()
	src := statuspage.Source{Name: cfg.Name, Endpoint: cfg.Endpoint, PointsTotal: len(cfg.Points),
		State: statuspage.SourceState(rs.Connected, rs.DownSince, now)}
	switch {
	case rs.Connected && !rs.ReadingSince.IsZero():
		src.Since = &rs.ReadingSince
	case !rs.Connected && !rs.DownSince.IsZero():
		src.Since = &rs.DownSince
	}
	if !rs.LastData.IsZero() {
		src.LastData = &rs.LastData
	}
	for _, e := range events { // newest first
		if e.Source == cfg.Name {
			src.LastError = &e
			break
		}
	}
	return src
}

// points returns up to limit of the source's points that match query, and
// how many matched. Matching reads the configuration only; the reader's
// lock is taken once, for the points shown.
func (v *statusView) points(ls *liveSource, index []string, hazards map[string]string, query string, limit int) ([]statuspage.Point, int) {
	query = strings.ToLower(strings.TrimSpace(query))
	var shown []int
	var ids []string
	matched := 0
	for j, pt := range ls.cfg.Points {
		if query != "" && !strings.Contains(index[j], query) {
			continue
		}
		matched++
		if len(shown) < limit {
			shown, ids = append(shown, j), append(ids, pt.ID)
		}
	}
	states := ls.reader.PointStatesOf(ids)
	out := make([]statuspage.Point, len(shown))
	for k, j := range shown {
		pt, ps := ls.cfg.Points[j], states[k]
		out[k] = statuspage.Point{ID: pt.ID, Name: pt.Name, Description: pt.Description, Unit: pt.Unit, Kind: pt.Kind,
			Equipment: pt.Equipment, HazardSource: pt.HazardSource, HazardName: hazards[pt.HazardSource],
			OutOfService: pt.OutOfService, Value: statuspage.JSONValue(ps.Value)}
		if !ps.LastSample.IsZero() {
			out[k].Quality, out[k].Status = opcua.StatusText(ps.Status), ps.Status
			out[k].SourceTime, out[k].Received = &ps.SourceTime, &ps.LastSample
		}
	}
	return out, matched
}
