// Package chtest gives tests a real ClickHouse server: the one named by
// LIFELINE_CLICKHOUSE_ADDR, or the system clickhouse-server started once per
// test process on free loopback ports in a temporary directory.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { chtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		addr := chtest.Addr(t)
//		db := chtest.Database(t, addr)
//		...
//	}
//
// Fault-injection tests that need to stop and restart ClickHouse start their
// own server with StartServer.
package chtest
