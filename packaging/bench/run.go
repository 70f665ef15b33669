package bench

import (
	"context"
	"fmt"
	"os"
	"time"
)

// Options configure a run.
type Options struct {
	// BinDir holds lifeline-aggregator, lifeline-agent and lifeline-plantsim.
	BinDir string
	// RepoDir is the repository root, for the dashboards' SQL files.
	RepoDir string
	// Only, when not empty, runs just the named sections (ingest, agent,
	// agentlimits, buffer, drain, storage, query, micro, peer, idle).
	Only map[string]bool
	// Telegraf is the Telegraf binary the peer section measures. The
	// section is not in the default set, since it needs that build (make
	// bench-peer): it runs when named in Only, or with the others when
	// Telegraf is set.
	Telegraf string
	// Short shortens every window, for a quick check that the run works.
	Short bool
	// Logf reports progress.
	Logf func(format string, args ...any)
}

// Runner owns one run: its temporary directory and its ClickHouse.
type Runner struct {
	opts   Options
	dir    string
	ch     *clickHouse
	report *Report
	// agentDB is the database the agent run filled with plantsim data,
	// measured by the storage section.
	agentDB string
}

// Run performs every section and returns the report. A section that fails
// is reported as not measured; the others still run.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	dir, err := os.MkdirTemp("", "lifeline-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	r := &Runner{opts: opts, dir: dir, report: &Report{Started: time.Now()}}
	r.report.Machine = describeMachine(dir)
	opts.Logf("starting ClickHouse")
	ch, err := startClickHouse(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	defer ch.stop()
	r.ch = ch
	r.report.Machine.ClickHouse = ch.version

	sections := []struct {
		id, title string
		run       func(context.Context, *Section) error
		// optIn sections run only when asked for (see Options.Telegraf).
		optIn bool
		// named sections repeat part of another and run only when named
		// in Only.
		named bool
	}{
		{"ingest", "1. Aggregator ingest (K agents → aggregator → ClickHouse)", r.ingest, false, false},
		{"agent", "2. Agent (plantsim 10,000 points at 10 Hz → agent → aggregator → ClickHouse)", r.agent, false, false},
		{"agentlimits", "2b. Agent starved of CPU, and polling", r.agentLimits, false, false},
		{"buffer", "3. Agent buffer (Badger queue)", r.buffer, false, false},
		{"drain", "4. Backlog drain of 5,000,000 samples", r.drain, false, false},
		{"storage", "5. Storage in ClickHouse", r.storage, false, false},
		{"query", "6. Query latency", r.query, false, false},
		{"micro", "7. Go micro-benchmarks of the hot paths", r.micro, false, false},
		{"idle", "1b. Aggregator beside 1,000 idle agents (the ingest section's idle runs alone)", r.idleSection, true, true},
		{"peer", "8. Peer: Telegraf beside the agent (plantsim 10,000 points at 10 Hz → ClickHouse)", r.peer, true, false},
	}
	for _, s := range sections {
		if !opts.wants(s.id, s.optIn) || s.named && !opts.Only[s.id] {
			continue
		}
		sec := &Section{ID: s.id, Title: s.title}
		r.report.Sections = append(r.report.Sections, sec)
		opts.Logf("section %s", s.id)
		start := time.Now()
		if err := s.run(ctx, sec); err != nil {
			sec.Error = err.Error()
			opts.Logf("section %s failed: %v", s.id, err)
		}
		opts.Logf("section %s done in %s", s.id, time.Since(start).Round(time.Second))
		if ctx.Err() != nil {
			return r.report, ctx.Err()
		}
	}
	r.report.Seconds = time.Since(r.report.Started).Seconds()
	return r.report, nil
}

// wants tells whether the run includes section id: those named in Only,
// or else every section but the opt-in ones, which join when Telegraf is
// set.
func (o Options) wants(id string, optIn bool) bool {
	if len(o.Only) > 0 {
		return o.Only[id]
	}
	return !optIn || o.Telegraf != ""
}

// window returns d, or a fraction of it for a short run.
func (r *Runner) window(d time.Duration) time.Duration {
	if r.opts.Short {
		return max(d/5, time.Second)
	}
	return d
}
