package service

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/opcua"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Reload results, the values of the result label of MetricConfigReloadTotal.
const (
	ReloadApplied         = "applied"          // in effect (also when nothing changed)
	ReloadInvalid         = "invalid"          // the file did not load or validate; the old configuration runs on
	ReloadRestartRequired = "restart_required" // a section that cannot change live changed; nothing was applied
)

// catalogTimeout bounds the wait for the aggregator link to take a new
// point catalog (see uplink.Recatalog).
const catalogTimeout = 30 * time.Second

// reloadState is what reloads need between them: the configuration in
// effect and the catalog last sent. mu serialises reloads, and with
// closed, keeps one from starting readers while the agent stops.
type reloadState struct {
	mu      sync.Mutex
	current config.Config
	// applied is current for readers that must not wait for a reload in
	// progress (the status page): a reload holds mu while the link takes
	// the new catalog, up to 30 s.
	applied atomic.Pointer[config.Config]
	// catalog is the point catalog the aggregator was last sent. Points
	// removed by a reload stay in it, so that their samples still in the
	// batcher or the buffer are not refused as unknown.
	catalog []*lifelinev1.Point
	closed  bool

	results     *prometheus.CounterVec
	lastSuccess prometheus.Gauge
}

func newReloadState(cfg config.Config) *reloadState {
	rs := &reloadState{
		current: cfg,
		catalog: Hello(cfg, "").GetPoints(),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricConfigReloadTotal,
			Help: "Configuration reloads (SIGHUP) by result: applied, invalid (the old configuration runs on) or restart_required (nothing applied)."},
			[]string{"result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricConfigLastReloadSeconds,
			Help: "When the configuration was last loaded successfully (Unix seconds): the start, or the last applied reload."}),
	}
	rs.applied.Store(&cfg)
	for _, r := range []string{ReloadApplied, ReloadInvalid, ReloadRestartRequired} {
		rs.results.WithLabelValues(r)
	}
	rs.lastSuccess.SetToCurrentTime()
	return rs
}

// hello is the hello with the catalog in effect.
func (rs *reloadState) hello(version string) *lifelinev1.Hello {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	h := Hello(rs.current, version)
	h.Points = rs.catalog
	return h
}

// close keeps later reloads from changing anything.
func (rs *reloadState) close() {
	rs.mu.Lock()
	rs.closed = true
	rs.mu.Unlock()
}

// ReloadError is a reload that changed nothing; Result says why.
type ReloadError struct {
	Result string
	Err    error
}

func (e *ReloadError) Error() string { return e.Err.Error() }
func (e *ReloadError) Unwrap() error { return e.Err }

// Reload re-reads the configuration file at path and applies it to the
// running agent, logging the outcome once. An invalid file, or one that
// changes what cannot change live (see restartSections), changes nothing:
// the agent runs on with the configuration it has, and the error (a
// *ReloadError) says what is wrong. Otherwise the new point catalog is
// sent to the aggregator first, then each source's changes are applied:
// point changes on the live subscription (opcua.Reader.Update), a source
// whose connection settings changed gets a new reader, added and removed
// sources start and stop theirs. The buffer, the batcher and the uplink
// are never restarted, so nothing buffered or in flight is touched.
func (a *Agent) Reload(ctx context.Context, path string) error {
	err := a.reload(ctx, path)
	var re *ReloadError
	switch {
	case err == nil:
		a.reloads.results.WithLabelValues(ReloadApplied).Inc()
		a.reloads.lastSuccess.SetToCurrentTime()
	case errors.As(err, &re):
		a.reloads.results.WithLabelValues(re.Result).Inc()
		a.logger.Error("configuration NOT reloaded; the agent runs on with its previous configuration", "file", path, "result", re.Result, "err", err)
	default:
		a.logger.Error("configuration reload incomplete", "file", path, "err", err)
	}
	return err
}

func (a *Agent) reload(ctx context.Context, path string) error {
	cfg, err := config.Load(path)
	if err != nil {
		return &ReloadError{Result: ReloadInvalid, Err: err}
	}
	a.mu.Lock()
	p := a.running
	a.mu.Unlock()
	if p == nil {
		return errors.New("reload: the agent is not running")
	}
	rs := a.reloads
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.closed {
		return errors.New("reload: the agent is stopping")
	}
	if sections := a.restartSections(rs.current, cfg); len(sections) > 0 {
		return &ReloadError{Result: ReloadRestartRequired, Err: fmt.Errorf(
			"%s changed: these take effect only when the agent restarts (e.g. systemctl restart lifeline-agent); nothing was applied",
			strings.Join(sections, ", "))}
	}
	for _, w := range config.Warnings(path, cfg) {
		a.logger.Warn(w)
	}
	if a.level != nil {
		_ = cfg.Log.SetLevel(a.level) // validated by Load
	}
	catalog := mergeCatalog(Hello(cfg, "").GetPoints(), rs.catalog)
	if !sameCatalog(catalog, rs.catalog) {
		cctx, cancel := context.WithTimeout(ctx, catalogTimeout)
		h := Hello(cfg, a.version)
		h.Points = catalog
		err := p.uplink.Recatalog(cctx, h)
		cancel()
		if err != nil {
			// The next stream carries the new catalog all the same; samples
			// of new points sent on the old one are refused as unknown.
			a.logger.Warn("the aggregator link did not take the new point catalog in time", "err", err)
		}
		rs.catalog = catalog
	}
	summary := a.applySources(p.sources, cfg.Sources)
	rs.current = cfg
	rs.applied.Store(&cfg)
	a.logger.Info("configuration reloaded", append([]any{"file", path, "catalog_points", len(rs.catalog)}, summary...)...)
	return nil
}

// currentConfig is the configuration in effect: the one the agent started
// with, or the last one a reload applied.
func (a *Agent) currentConfig() config.Config {
	return *a.reloads.applied.Load()
}

// restartSections names the sections of the configuration that differ
// between old and new and that only a restart applies: the site, the
// aggregator link, the buffer, the metrics endpoint, and the log format
// (and level, without WithLogLevel).
func (a *Agent) restartSections(old, new config.Config) []string {
	var out []string
	for _, s := range []struct {
		name string
		a, b any
	}{
		{"site", old.Site, new.Site},
		{"aggregator", old.Aggregator, new.Aggregator},
		{"buffer", old.Buffer, new.Buffer},
		{"metrics", old.Metrics, new.Metrics},
		{"log.format", old.Log.Format, new.Log.Format},
	} {
		if !reflect.DeepEqual(s.a, s.b) {
			out = append(out, s.name)
		}
	}
	if a.level == nil && old.Log.Level != new.Log.Level {
		out = append(out, "log.level")
	}
	return out
}

// applySources brings the running readers in line with sources and
// returns a summary for the log.
func (a *Agent) applySources(set *readerSet, sources []config.Source) []any {
	running := map[string]*liveSource{}
	for _, ls := range set.snapshot() {
		running[ls.cfg.Name] = ls
	}
	var added, removed, restarted, updated []string
	wanted := map[string]bool{}
	for _, src := range sources {
		wanted[src.Name] = true
	}
	// Removed sources stop first: a point that moved to another source is
	// then never read twice.
	for name, ls := range running {
		if !wanted[name] {
			// Run hands the sink everything it received before it returns.
			set.halt(ls)
			set.replace(ls, nil)
			removed = append(removed, name)
		}
	}
	for _, src := range sources {
		ls, ok := running[src.Name]
		switch {
		case !ok:
			next := set.newSource(src)
			set.replace(nil, next)
			set.start(next)
			added = append(added, src.Name)
		case len(opcua.SessionChanges(ls.cfg, src)) > 0:
			a.logger.Info("source connection settings changed; restarting its reader", "source", src.Name,
				"settings", strings.Join(opcua.SessionChanges(ls.cfg, src), ","))
			set.halt(ls)
			next := set.newSource(src)
			set.replace(ls, next)
			set.start(next)
			restarted = append(restarted, src.Name)
		case !reflect.DeepEqual(ls.cfg, src):
			if _, err := ls.reader.Update(src); err != nil {
				a.logger.Error("update source", "source", src.Name, "err", err) // SessionChanges ruled this out
				continue
			}
			set.reconfigured(ls, src)
			updated = append(updated, src.Name)
		}
	}
	return []any{"sources_added", added, "sources_removed", removed, "sources_restarted", restarted, "sources_updated", updated}
}

// mergeCatalog is the new configuration's points followed by the points
// of the previous catalog it no longer lists.
func mergeCatalog(points, previous []*lifelinev1.Point) []*lifelinev1.Point {
	listed := make(map[string]bool, len(points))
	for _, p := range points {
		listed[p.GetId()] = true
	}
	out := points
	for _, p := range previous {
		if !listed[p.GetId()] {
			out = append(out, p)
		}
	}
	return out
}

func sameCatalog(a, b []*lifelinev1.Point) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
