package store

import (
	"context"
	"fmt"
	"net"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Conn is the open connection, for this package's tests to check tables
// directly; nil before Open and after Close. Tests elsewhere open their own
// with chtest.Conn.
func (s *Store) Conn() driver.Conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.conn
}

// SchemaObjects returns the names of the tables and views Migrate creates.
func SchemaObjects(caps Capabilities) []string {
	var names []string
	for _, stmt := range ddl(caps) {
		names = append(names, objectName(stmt))
	}
	return names
}

// OpenDialled opens s as Open does, each connection dialled by dial, so a
// test can change how a connection behaves once the schema is in place.
func (s *Store) OpenDialled(ctx context.Context, dial func(context.Context, string) (net.Conn, error)) error {
	if err := s.createDatabase(ctx); err != nil {
		return err
	}
	opts := s.options(s.cfg.Database)
	opts.DialContext = dial
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return fmt.Errorf("connect clickhouse %s: %w", s.cfg.Addr, err)
	}
	return s.Attach(ctx, conn)
}
