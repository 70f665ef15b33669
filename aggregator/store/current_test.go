package store_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chdbtest"
)

// openCurrent attaches a Store to a fresh chdb database: the schema is made
// by Migrate exactly as on a current server it connects to.
func openCurrent(t *testing.T) *store.Store {
	t.Helper()
	conn := chdbtest.Open(t)
	s := store.New(store.DefaultConfig(), slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Attach(ctx, conn); err != nil {
		t.Fatalf("migrate on chdb: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// A current server is detected as one: the schema takes every capability.
func TestCurrentServerCapabilities(t *testing.T) {
	s := openCurrent(t)
	caps := s.Capabilities()
	if !caps.DateTime64 || !caps.LowCardinality || caps.LowCardinalitySetting || !caps.Codecs || !caps.TTL {
		t.Fatalf("capabilities of ClickHouse %s: %+v", caps.Version, caps)
	}
}
