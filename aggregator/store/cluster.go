package store

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// LocalSuffix names the replicated table under each public table of a
// cluster: samples is Distributed over samples_local on every shard.
const LocalSuffix = "_local"

// clusterDDL rewrites the single-server statements of ddl for a cluster:
//
//   - CREATE TABLE t becomes t_local ON CLUSTER, its engine the Replicated
//     one with a ZooKeeper path per shard and table, plus t ON CLUSTER as
//     Distributed over t_local, sharded by sipHash64(site_id) so that one
//     site's rows (samples, ledger, rollups, alarms, registry, gaps) live on
//     one shard and FINAL, GROUP BY site and joins on site stay shard-local;
//   - CREATE MATERIALIZED VIEW v TO t AS SELECT … FROM s becomes v ON
//     CLUSTER TO t_local AS SELECT … FROM s_local: the view fires on the
//     replica that takes the insert and replication carries its rows.
//
// Names are qualified with db because ON CLUSTER statements run on the other
// hosts in their default database. Every statement keeps IF NOT EXISTS, so
// a re-run completes a partly applied migration on every host.
func clusterDDL(stmts []string, cluster, db string) ([]string, error) {
	var out []string
	for _, stmt := range stmts {
		switch {
		case strings.HasPrefix(stmt, createTable):
			local, dist, err := clusterTable(stmt, cluster, db)
			if err != nil {
				return nil, err
			}
			out = append(out, local, dist)
		case strings.HasPrefix(stmt, createView):
			v, err := clusterView(stmt, cluster, db)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		default:
			return nil, fmt.Errorf("cluster ddl: unexpected statement %.40q", stmt)
		}
	}
	return out, nil
}

const (
	createTable = "CREATE TABLE IF NOT EXISTS "
	createView  = "CREATE MATERIALIZED VIEW IF NOT EXISTS "
	engineMark  = "\n) ENGINE = "
)

// ZooKeeperPath is the replication path of table's local table in db; the
// server's macros fill {shard}.
func ZooKeeperPath(db, table string) string {
	return "/clickhouse/tables/{shard}/" + db + "/" + table
}

func clusterTable(stmt, cluster, db string) (local, dist string, err error) {
	name := objectName(stmt)
	rest := stmt[len(createTable)+len(name):]
	i := strings.Index(rest, engineMark)
	if i < 0 {
		return "", "", fmt.Errorf("cluster ddl %s: no engine", name)
	}
	columns, engine := rest[:i+2], rest[i+len(engineMark):]
	j := strings.IndexFunc(engine, func(r rune) bool { return r == '(' || r == '\n' })
	if j < 0 {
		j = len(engine)
	}
	family, tail := engine[:j], engine[j:]
	args := ""
	if strings.HasPrefix(tail, "(") {
		end := matchingParen(tail)
		if end < 0 {
			return "", "", fmt.Errorf("cluster ddl %s: unbalanced engine arguments", name)
		}
		if a := tail[1:end]; a != "" {
			args = ", " + a
		}
		tail = tail[end+1:]
	}
	local = createTable + db + "." + name + LocalSuffix + " ON CLUSTER " + cluster + columns +
		" ENGINE = Replicated" + family + "('" + ZooKeeperPath(db, name) + "', '{replica}'" + args + ")" + tail
	dist = createTable + db + "." + name + " ON CLUSTER " + cluster + " AS " + db + "." + name + LocalSuffix +
		"\nENGINE = Distributed(" + cluster + ", " + db + ", " + name + LocalSuffix + ", sipHash64(" + shardKey(columns, tail) + "))"
	return local, dist, nil
}

var orderBy = regexp.MustCompile(`ORDER BY \(?(\w+)`)

// shardKey is site_id, or for a table without one (report_deliveries, by
// park) the first column of its sorting key, so that rows that replace
// each other stay on one shard.
func shardKey(columns, tail string) string {
	if strings.Contains(columns, "\n    site_id ") {
		return "site_id"
	}
	if m := orderBy.FindStringSubmatch(tail); m != nil {
		return m[1]
	}
	return "rand()"
}

// matchingParen returns the index of the parenthesis closing s[0], or -1.
func matchingParen(s string) int {
	depth := 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

var (
	viewHead = regexp.MustCompile(`^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS\n`)
	fromName = regexp.MustCompile(`\bFROM (\w+)\b`)
)

func clusterView(stmt, cluster, db string) (string, error) {
	m := viewHead.FindStringSubmatch(stmt)
	if m == nil {
		return "", fmt.Errorf("cluster ddl: unexpected view %.60q", stmt)
	}
	sel := fromName.ReplaceAllString(stmt[len(m[0]):], "FROM "+db+".${1}"+LocalSuffix)
	return createView + db + "." + m[1] + " ON CLUSTER " + cluster + " TO " + db + "." + m[2] + LocalSuffix + " AS\n" + sel, nil
}

// clusterSettings are the session settings of a store on a cluster: an
// insert into a Distributed table returns once every shard holds its part,
// so the writer's acknowledgement means stored.
func clusterSettings() clickhouse.Settings {
	return clickhouse.Settings{"insert_distributed_sync": 1}
}

// ProductMode is the distributed_product_mode a cluster's user profile must
// set: a subquery or join over a Distributed table inside a distributed
// query then reads the shard's local table, which sharding by site makes
// complete. 18.16 takes string settings over the native protocol only from
// the profile, so the store checks it rather than sending it.
const ProductMode = "local"

// checkClusterProfile reports a cluster whose profile lacks ProductMode, or
// on 18.x allow_experimental_low_cardinality_type: ON CLUSTER statements run
// on each host with the server's default profile, not the sender's settings.
func checkClusterProfile(ctx context.Context, conn driver.Conn, caps Capabilities, cluster string) error {
	if caps.LowCardinalitySetting {
		return fmt.Errorf("cluster %s: the default profile must set allow_experimental_low_cardinality_type = 1 (docs/scaling.md)", cluster)
	}
	var mode string
	if err := conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'distributed_product_mode'").Scan(&mode); err != nil {
		return fmt.Errorf("distributed_product_mode: %w", err)
	}
	if mode != ProductMode {
		return fmt.Errorf("cluster %s: the user's profile sets distributed_product_mode = %q, want %q (docs/scaling.md)", cluster, mode, ProductMode)
	}
	var hosts uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.clusters WHERE cluster = ?", cluster).Scan(&hosts); err != nil {
		return fmt.Errorf("cluster %s: %w", cluster, err)
	}
	if hosts == 0 {
		return fmt.Errorf("cluster %s: not in the server's remote_servers", cluster)
	}
	return nil
}
