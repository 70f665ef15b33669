package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lifeline-telemetry/lifeline/packaging/launch"
)

// aggregatorProc is a lifeline-aggregator process writing to one database.
type aggregatorProc struct {
	*launch.Process
	addr, metrics string
}

// startAggregator runs lifeline-aggregator with its defaults, plain-text
// gRPC on loopback, writing to db.
func (r *Runner) startAggregator(ctx context.Context, db string) (*aggregatorProc, error) {
	return r.startAggregatorWith(ctx, db, "")
}

// startAggregatorWith is startAggregator with extra lines of YAML
// configuration (whole top-level sections).
func (r *Runner) startAggregatorWith(ctx context.Context, db, extra string) (*aggregatorProc, error) {
	addrs, err := launch.FreeAddrs(2)
	if err != nil {
		return nil, err
	}
	addr, metrics := addrs[0], addrs[1]
	cfg := filepath.Join(r.dir, "aggregator-"+db+".yaml")
	data := fmt.Sprintf("server:\n  listen: %s\n  tls: {insecure: true}\nclickhouse: {addr: %s, database: %s}\nmetrics: {listen: %s, pprof: true}\nlog: {level: warn}\n%s",
		addr, r.ch.addr, db, metrics, extra)
	if err := os.WriteFile(cfg, []byte(data), 0o644); err != nil {
		return nil, err
	}
	p, err := startProcess(r.opts.BinDir, r.dir, "lifeline-aggregator", "run", "--config", cfg)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := p.WaitListening(wctx, addr); err != nil {
		p.Stop(5 * time.Second)
		return nil, err
	}
	return &aggregatorProc{Process: p, addr: addr, metrics: metrics}, nil
}
