// Package chcluster starts a ClickHouse cluster for tests: Debian's ZooKeeper
// and several clickhouse-server processes as replicas of one or more shards.
//
//	c := chcluster.Start(t, chcluster.Layout{Shards: 1, Replicas: 2})
//	st := store.New(store.Config{Addr: c.Nodes[0].Addr(), Cluster: c.Name, …}, nil)
//
// Everything listens on loopback ports chosen at start and lives in
// t.TempDir(). Without java, the zookeeper package or clickhouse-server the
// test is skipped, and fails when $CI is set.
package chcluster
