package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

// A migrated database is current; one that lost a table or a column (a
// hand-made change, a database restored from an older backup) is behind,
// by name, until Migrate runs again.
func TestSchemaBehind(t *testing.T) {
	s := storetest.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if missing, err := s.SchemaBehind(ctx); err != nil || len(missing) != 0 {
		t.Fatalf("after Open: missing %v, %v", missing, err)
	}
	conn := chtest.Conn(t, s.Config().Addr, s.Config().Database)
	for _, q := range []string{"DROP TABLE sites", "ALTER TABLE agents DROP COLUMN cert_not_after"} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	missing, err := s.SchemaBehind(ctx)
	if err != nil || !slices.Equal(missing, []string{"agents.cert_not_after", "sites"}) {
		t.Fatalf("after dropping sites and agents.cert_not_after: missing %v, %v", missing, err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// CREATE … IF NOT EXISTS brings the table back, not the column: the
	// check says so rather than calling the schema current.
	if missing, err := s.SchemaBehind(ctx); err != nil || !slices.Equal(missing, []string{"agents.cert_not_after"}) {
		t.Fatalf("after Migrate: missing %v, %v", missing, err)
	}

	closed := store.New(store.DefaultConfig(), nil)
	if err := closed.Ping(ctx); !errors.Is(err, store.ErrNotOpen) {
		t.Fatalf("Ping before Open: %v", err)
	}
	if _, err := closed.SchemaBehind(ctx); !errors.Is(err, store.ErrNotOpen) {
		t.Fatalf("SchemaBehind before Open: %v", err)
	}
}
