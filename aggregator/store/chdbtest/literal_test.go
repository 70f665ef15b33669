package chdbtest

import (
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Tuples bind as clickhouse-go binds them, so that "IN ?" and "IN (?)"
// read the same on chdb as on a server.
func TestBindGroupSets(t *testing.T) {
	got, err := bind("SELECT 1 WHERE s IN ? AND (s, n) IN (?)",
		[]any{clickhouse.GroupSet{Value: []any{"a", "b"}},
			[]clickhouse.GroupSet{{Value: []any{"a", uint64(1)}}, {Value: []any{"b'", uint64(2)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `SELECT 1 WHERE s IN ('a', 'b') AND (s, n) IN (('a', 1), ('b\'', 2))`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
