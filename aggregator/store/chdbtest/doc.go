// Package chdbtest runs the store's statements on a current ClickHouse
// (26.x) embedded in the npm package chdb, through a small node helper.
//
// chdb has no network server, so Conn implements the part of
// clickhouse-go's driver.Conn the store and the dashboards use (Exec,
// Query, QueryRow, PrepareBatch) by rendering each statement and each
// batch as SQL text: a Store attached to it migrates, inserts and queries
// exactly as it does over the native protocol.
//
//	func TestX(t *testing.T) {
//		conn := chdbtest.Open(t) // skipped without chdb, fails under CI
//		...
//	}
//
// Install chdb with `make chdb` (into var/chdb); LIFELINE_CHDB_DIR names
// another folder holding node_modules/chdb.
package chdbtest
