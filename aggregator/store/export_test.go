package store

import "github.com/ClickHouse/clickhouse-go/v2/lib/driver"

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
