package chcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

// Name is the cluster's name in every server's remote_servers.
const Name = "lifeline"

// Layout is the shape of a cluster: Shards × Replicas servers.
type Layout struct {
	Shards, Replicas int
}

// Node is one clickhouse-server of a cluster.
type Node struct {
	*chtest.Server
	Shard, Replica int // from 1
}

// Cluster is ZooKeeper and the servers of a Layout.
type Cluster struct {
	Name  string
	ZK    *ZooKeeper
	Nodes []*Node
}

// Start starts ZooKeeper and the servers of l in t.TempDir() and stops them
// when t ends. Without the binaries it skips t, or fails it when $CI is set.
func Start(t testing.TB, l Layout) *Cluster {
	t.Helper()
	c, err := StartIn(t.TempDir(), l)
	if errors.Is(err, ErrNoZooKeeper) || errors.Is(err, chtest.ErrNoServer) {
		if os.Getenv("CI") != "" {
			t.Fatalf("cluster test needs its servers under CI: %v", err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(c.errorLogs())
		}
		c.Stop()
	})
	return c
}

// errorLogs returns the last lines of every server's error log.
func (c *Cluster) errorLogs() string {
	var b strings.Builder
	for _, n := range c.Nodes {
		path := filepath.Join(n.Dir(), "log", "server.err.log")
		data, _ := os.ReadFile(path)
		var lines []string
		for _, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, "<Error>") || strings.Contains(l, "<Warning>") {
				lines = append(lines, l)
			}
		}
		lines = lines[max(0, len(lines)-15):]
		fmt.Fprintf(&b, "--- %s (shard %d replica %d) ---\n%s\n", path, n.Shard, n.Replica, strings.Join(lines, "\n"))
	}
	return b.String()
}

// StartIn is Start in dir, for callers without a testing.TB. Stop stops it.
func StartIn(dir string, l Layout) (*Cluster, error) {
	if l.Shards < 1 || l.Replicas < 1 {
		return nil, fmt.Errorf("layout %+v: want at least one shard and one replica", l)
	}
	zk, err := NewZooKeeper(filepath.Join(dir, "zookeeper"))
	if err != nil {
		return nil, err
	}
	c := &Cluster{Name: Name, ZK: zk}
	for s := 1; s <= l.Shards; s++ {
		for r := 1; r <= l.Replicas; r++ {
			srv, err := chtest.NewServer(filepath.Join(dir, fmt.Sprintf("ch-s%dr%d", s, r)), chtest.Recommended)
			if err != nil {
				return nil, err
			}
			c.Nodes = append(c.Nodes, &Node{Server: srv, Shard: s, Replica: r})
		}
	}
	if err := zk.Start(); err != nil {
		return nil, err
	}
	for _, n := range c.Nodes {
		if err := c.writeConfig(n, l); err != nil {
			c.Stop()
			return nil, err
		}
		if err := n.Start(); err != nil {
			c.Stop()
			return nil, err
		}
	}
	for _, n := range c.Nodes {
		if err := n.WaitZooKeeper(); err != nil {
			c.Stop()
			return nil, err
		}
	}
	return c, nil
}

// WaitZooKeeper waits until n reads ZooKeeper: a server that has just
// started, or whose session expired, refuses replicated writes and ON
// CLUSTER statements until then.
func (n *Node) WaitZooKeeper() error {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{n.Addr()}, DialTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		var k uint64
		err := conn.QueryRow(ctx, "SELECT count() FROM system.zookeeper WHERE path = '/'").Scan(&k)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: zookeeper not reachable: %w", n.Addr(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop stops every server and ZooKeeper.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		_ = n.Server.Stop()
	}
	_ = c.ZK.Stop()
}

// Shard returns the nodes of shard s (from 1).
func (c *Cluster) Shard(s int) []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n.Shard == s {
			out = append(out, n)
		}
	}
	return out
}

type hostPort struct {
	Host string
	Port int
}

var clusterXML = template.Must(template.New("cluster.xml").Parse(`<?xml version="1.0"?>
<yandex>
    <zookeeper>
        <node><host>127.0.0.1</host><port>{{.ZK}}</port></node>
        <session_timeout_ms>30000</session_timeout_ms>
    </zookeeper>
    <remote_servers>
        <{{.Name}}>
{{- range .Shards}}
            <shard>
                <internal_replication>true</internal_replication>
{{- range .}}
                <replica><host>{{.Host}}</host><port>{{.Port}}</port></replica>
{{- end}}
            </shard>
{{- end}}
        </{{.Name}}>
    </remote_servers>
    <macros>
        <shard>{{.Shard}}</shard>
        <replica>{{.Replica}}</replica>
    </macros>
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
    </distributed_ddl>
</yandex>
`))

// writeConfig writes n's config.d/cluster.xml: ZooKeeper, the cluster's
// shards and replicas, and n's macros for the replicated tables' paths.
func (c *Cluster) writeConfig(n *Node, l Layout) error {
	shards := make([][]hostPort, l.Shards)
	for _, m := range c.Nodes {
		host, port, err := net.SplitHostPort(m.Addr())
		if err != nil {
			return err
		}
		p, _ := strconv.Atoi(port)
		shards[m.Shard-1] = append(shards[m.Shard-1], hostPort{host, p})
	}
	var buf bytes.Buffer
	err := clusterXML.Execute(&buf, map[string]any{
		"ZK": c.ZK.Port(), "Name": c.Name, "Shards": shards,
		"Shard": fmt.Sprintf("%02d", n.Shard), "Replica": fmt.Sprintf("s%dr%d", n.Shard, n.Replica),
	})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(n.ConfigDir(), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(n.ConfigDir(), "cluster.xml"), buf.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll(n.UsersDir(), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(n.UsersDir(), "cluster.xml"), []byte(usersXML), 0o644)
}

// usersXML is the profile cluster mode needs (store.checkClusterProfile).
const usersXML = `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <distributed_product_mode>local</distributed_product_mode>
            <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>
            <!-- a test fails in a minute, not three, when a host misses an ON CLUSTER statement -->
            <distributed_ddl_task_timeout>60</distributed_ddl_task_timeout>
        </default>
    </profiles>
</yandex>
`
