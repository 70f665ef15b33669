package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// fromEveryReplica returns what to read table from when another aggregator
// may have just written it: table itself on one server; on a cluster a
// remote() over the local tables of every server, each replica as if it
// were a shard, with ctx telling ClickHouse to skip the servers that are
// down.
//
// Replication is asynchronous: a row written on one replica reaches its
// twin some time later, and a Distributed table reads one replica per shard,
// the aggregator's own first. An aggregator taking over a site from another
// that used the other replica would miss the other's last claim
// (site_owners) or its last committed batches (ingest_batches) and insert
// them again. Reading every replica sees every row whose insert returned,
// as long as the replica that took it is up.
func (s *Store) fromEveryReplica(ctx context.Context, conn driver.Conn, table string) (string, context.Context, error) {
	if s.cfg.Cluster == "" {
		return table, ctx, nil
	}
	var hosts []string
	err := queryEach(ctx, conn, "replicas of "+s.cfg.Cluster, func(rows driver.Rows) error {
		var host string
		var port uint16
		if err := rows.Scan(&host, &port); err != nil {
			return err
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		hosts = append(hosts, fmt.Sprintf("%s:%d", host, port))
		return nil
	}, "SELECT host_name, port FROM system.clusters WHERE cluster = ?", s.cfg.Cluster)
	if err != nil {
		return "", ctx, err
	}
	if len(hosts) == 0 {
		return "", ctx, fmt.Errorf("replicas of %s: none in system.clusters", s.cfg.Cluster)
	}
	from := "remote('" + strings.Join(hosts, ",") + "', " + s.cfg.Database + ", " + table + LocalSuffix + ")"
	return from, clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"skip_unavailable_shards": 1})), nil
}
