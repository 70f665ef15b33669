package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

const (
	// probeTTL is how long a ClickHouse check's answer is reused, so that
	// probes, however many and frequent, reach ClickHouse at most once per
	// interval each.
	probeTTL = 2 * time.Second
	// pingTimeout bounds the ping: a ClickHouse that takes longer to
	// answer one is not one to send agents' data to.
	pingTimeout = time.Second
	// schemaTimeout bounds the read of system.columns.
	schemaTimeout = 3 * time.Second
)

// addChecks gives the metrics server the aggregator's /healthz and
// /readyz: live while the writer is not stuck; ready while ClickHouse
// answers, its schema is this version's, and ingest is serving.
func (a *Aggregator) addChecks(ms *obs.Server, st *store.Store, wr *writer.Writer) {
	// One insert attempt ends within the read timeout; the backoff
	// between attempts is at most a few seconds.
	limit := a.cfg.Store().ReadTimeout + time.Minute
	ms.AddLiveness("writer_loop", func(context.Context) (string, error) { return "", wr.Stalled(limit) })
	ms.AddReadiness("clickhouse", obs.Cached(a.clickhouseReady(st), probeTTL))
	ms.AddReadiness("schema", obs.Cached(a.schemaReady(st), probeTTL))
	ms.AddReadiness("grpc", a.grpcReady)
}

func (a *Aggregator) clickhouseReady(st *store.Store) obs.Check {
	addr := a.cfg.Store().Addr
	return func(ctx context.Context) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, pingTimeout)
		defer cancel()
		err := st.Ping(ctx)
		switch {
		case errors.Is(err, store.ErrNotOpen):
			return "", fmt.Errorf("not connected yet (waiting for ClickHouse at %s; the log says why)", addr)
		case err != nil:
			return "", err
		}
		return fmt.Sprintf("%s answers (ClickHouse %s)", addr, st.Capabilities().Version), nil
	}
}

// schemaReady fails while the database lacks a table or column of this
// version's schema: inserts and dashboards would fail on it.
func (a *Aggregator) schemaReady(st *store.Store) obs.Check {
	return func(ctx context.Context) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, schemaTimeout)
		defer cancel()
		missing, err := st.SchemaBehind(ctx)
		switch {
		case errors.Is(err, store.ErrNotOpen):
			return "", errors.New("not checked yet: ClickHouse not connected")
		case err != nil:
			return "", err
		case len(missing) > 0:
			if len(missing) > 10 {
				missing = append(missing[:10], fmt.Sprintf("and %d more", len(missing)-10))
			}
			return "", fmt.Errorf("migrations not applied: database %s lacks %s (run lifeline-aggregator migrate)",
				a.cfg.Store().Database, strings.Join(missing, ", "))
		}
		return "database " + a.cfg.Store().Database + " is current", nil
	}
}

func (a *Aggregator) grpcReady(context.Context) (string, error) {
	a.mu.Lock()
	recv, addr := a.recv, a.addr
	a.mu.Unlock()
	if recv == nil {
		return "", errors.New("not listening yet (ClickHouse first)")
	}
	if err := recv.Serving(); err != nil {
		return "", err
	}
	return "serving on " + addr, nil
}
