//go:build cluster

package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chcluster"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
)

// The cluster tests run with make test-cluster (-tags cluster): each starts
// ZooKeeper and its ClickHouse servers. LIFELINE_CLUSTER_LONG=1 (make
// test-cluster CLUSTER_LONG=1) lengthens the streams.
var clusterLong = os.Getenv("LIFELINE_CLUSTER_LONG") != ""

const clusterDB = "lifeline"

// openCluster opens a Store in cluster mode on node i of c.
func openCluster(t *testing.T, c *chcluster.Cluster, i int) *store.Store {
	t.Helper()
	cfg := store.DefaultConfig()
	cfg.Addr, cfg.Database, cfg.Cluster = c.Nodes[i].Addr(), clusterDB, c.Name
	s := store.New(cfg, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatalf("open store on %s: %v", cfg.Addr, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// count runs a query returning one number on conn.
func count(t *testing.T, conn clickhouse.Conn, query string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// engines returns table → engine of db on conn.
func engines(t *testing.T, conn clickhouse.Conn) map[string]string {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT name, engine FROM system.tables WHERE database = ?", clusterDB)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, engine string
		if err := rows.Scan(&name, &engine); err != nil {
			t.Fatal(err)
		}
		out[name] = engine
	}
	return out
}

// checkSchema checks that every node has each public table as Distributed
// over a Replicated local table, and the views on the local tables.
func checkSchema(t *testing.T, c *chcluster.Cluster, want map[string]string) {
	t.Helper()
	for _, n := range c.Nodes {
		got := engines(t, chtest.Conn(t, n.Addr(), "default"))
		for name, engine := range want {
			if got[name] != engine {
				t.Errorf("%s: %s is %q, want %q", n.Addr(), name, got[name], engine)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d tables, want %d: %v", n.Addr(), len(got), len(want), got)
		}
	}
}

func TestClusterMigrate(t *testing.T) {
	c := chcluster.Start(t, chcluster.Layout{Shards: 1, Replicas: 2})
	s := openCluster(t, c, 0)
	ctx := context.Background()
	conn := chtest.Conn(t, c.Nodes[0].Addr(), "default")
	want := engines(t, conn)
	for _, table := range []string{"samples", "ingest_batches", "samples_1m", "samples_1h", "alarm_events", "alarm_state",
		"enterprises", "point_versions", "gaps", "points", "sites"} {
		if want[table] != "Distributed" || !strings.HasPrefix(want[table+store.LocalSuffix], "Replicated") {
			t.Errorf("%s is %q over %q, want Distributed over Replicated…", table, want[table], want[table+store.LocalSuffix])
		}
	}
	if want["ingest_batches_local"] != "ReplicatedSummingMergeTree" || want["samples_1m_local"] != "ReplicatedAggregatingMergeTree" ||
		want["samples_local"] != "ReplicatedReplacingMergeTree" || want["agents_local"] != "ReplicatedMergeTree" {
		t.Errorf("local engines: %v", want)
	}
	checkSchema(t, c, want)

	// Again: nothing changes.
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	checkSchema(t, c, want)

	// A migration that stopped half way: some objects missing on one
	// host, others on every host. A re-run completes it.
	other := chtest.Conn(t, c.Nodes[1].Addr(), "default")
	for _, q := range []string{
		"DROP TABLE lifeline.samples_1h_mv",
		"DROP TABLE lifeline.samples_1h",
		"DROP TABLE lifeline.alarm_state",
		"DROP TABLE lifeline.alarm_state_local",
	} {
		if err := other.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := conn.Exec(ctx, "DROP TABLE lifeline.point_settings ON CLUSTER "+c.Name); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("resumed migrate: %v", err)
	}
	checkSchema(t, c, want)

	// The re-created replica of alarm_state takes what the other holds.
	if err := s.SaveAlarmStates(ctx, []store.AlarmState{{SiteID: "S1", PointID: "P1", State: "x"}}); err != nil {
		t.Fatal(err)
	}
	if err := other.Exec(ctx, "SYSTEM SYNC REPLICA lifeline.alarm_state_local"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, other, "SELECT count() FROM lifeline.alarm_state_local"); n != 1 {
		t.Fatalf("alarm_state on the second replica: %d rows, want 1", n)
	}

	// Retention drops old months on every replica (storetest's samples are
	// of June 2025; the ledger's rows of today stay).
	if err := s.Insert(ctx, storetest.Batches("S1", 1, 2, 100)); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyRetention(ctx, store.DefaultRetention()); err != nil {
		t.Fatalf("retention: %v", err)
	}
	for _, n := range c.Nodes {
		conn := chtest.Conn(t, n.Addr(), "default")
		if err := conn.Exec(ctx, "SYSTEM SYNC REPLICA lifeline.samples_local"); err != nil {
			t.Fatal(err)
		}
		if k := count(t, conn, "SELECT count() FROM lifeline.samples_local"); k != 0 {
			t.Errorf("%s: %d samples of June 2025 left after retention", n.Addr(), k)
		}
		if k := count(t, conn, "SELECT count() FROM lifeline.ingest_batches_local"); k != 2 {
			t.Errorf("%s: %d ledger rows, want 2", n.Addr(), k)
		}
	}
}

// checkExactlyOnce checks that the cluster holds wantRows samples, each
// once, read through the Distributed table on conn, and that the ledger
// counts every batch once.
func checkExactlyOnce(t *testing.T, conn clickhouse.Conn, wantRows, wantBatches uint64) {
	t.Helper()
	total := count(t, conn, "SELECT count() FROM lifeline.samples")
	distinct := count(t, conn, "SELECT uniqExact(site_id, point_id, ts_ns) FROM lifeline.samples")
	if total != wantRows || distinct != wantRows {
		t.Errorf("samples: %d rows, %d distinct, want %d each", total, distinct, wantRows)
	}
	batches := count(t, conn, "SELECT count() FROM (SELECT site_id, seq FROM lifeline.ingest_batches GROUP BY site_id, seq)")
	inserts := count(t, conn, "SELECT sum(inserts) FROM lifeline.ingest_batches FINAL")
	rows := count(t, conn, "SELECT sum(rows) FROM lifeline.ingest_batches FINAL")
	if batches != wantBatches || inserts != wantBatches || rows != wantRows {
		t.Errorf("ledger: %d batches, %d inserts, %d rows; want %d, %d, %d", batches, inserts, rows, wantBatches, wantBatches, wantRows)
	}
}

// checkReplicasAgree checks that the replicas of each shard come to hold
// the same samples, ledger and rollups. A replica killed mid-write finds
// its lost parts only when it checks them, after SYNC REPLICA returned, so
// it is given a minute to converge.
func checkReplicasAgree(t *testing.T, c *chcluster.Cluster) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		diff := replicaDiff(t, c)
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("replicas differ: %s", diff)
			return
		}
		t.Logf("replicas differ, waiting: %s", diff)
		time.Sleep(2 * time.Second)
	}
}

var replicaQueries = []string{
	"SELECT count(), sum(cityHash64(site_id, point_id, ts_ns, value)) FROM lifeline.samples_local",
	"SELECT count(), sum(cityHash64(site_id, point_id, bucket, n, s, mn, mx)) FROM (SELECT site_id, point_id, bucket, " +
		"countMerge(samples) AS n, sumMerge(sum_value) AS s, minMerge(min_value) AS mn, maxMerge(max_value) AS mx " +
		"FROM lifeline.samples_1m_local GROUP BY site_id, point_id, bucket)",
	"SELECT count(), sum(cityHash64(site_id, point_id, bucket, n)) FROM (SELECT site_id, point_id, bucket, " +
		"countMerge(samples) AS n FROM lifeline.samples_1h_local GROUP BY site_id, point_id, bucket)",
	"SELECT count(), sum(cityHash64(site_id, buffer_id, seq, r, i)) FROM (SELECT site_id, buffer_id, seq, sum(rows) AS r, sum(inserts) AS i " +
		"FROM lifeline.ingest_batches_local GROUP BY site_id, buffer_id, seq)",
}

// replicaDiff returns how the replicas of a shard differ, or "".
func replicaDiff(t *testing.T, c *chcluster.Cluster) string {
	t.Helper()
	ctx := context.Background()
	for shard := 1; len(c.Shard(shard)) > 0; shard++ {
		nodes := c.Shard(shard)
		for _, n := range nodes {
			conn := chtest.Conn(t, n.Addr(), "default")
			for _, tbl := range []string{"samples_local", "samples_1m_local", "samples_1h_local", "ingest_batches_local"} {
				if err := conn.Exec(ctx, "SYSTEM SYNC REPLICA lifeline."+tbl); err != nil {
					t.Fatalf("sync %s on %s: %v", tbl, n.Addr(), err)
				}
			}
		}
		for _, q := range replicaQueries {
			var first string
			for i, n := range nodes {
				var cnt, sum uint64
				if err := chtest.Conn(t, n.Addr(), "default").QueryRow(ctx, q).Scan(&cnt, &sum); err != nil {
					t.Fatalf("%s on %s: %v", q, n.Addr(), err)
				}
				got := fmt.Sprint(cnt, " ", sum)
				if i == 0 {
					first = got
				} else if got != first {
					return fmt.Sprintf("shard %d, %.70s…: %s vs %s", shard, q, first, got)
				}
			}
		}
	}
	return ""
}

// streamBatches sends one batch of size samples per site and round through
// the aggregator's writer on s, calling during(round) before each round,
// and waits for each round's acknowledgements as an agent does. A batch the
// writer gives back (it kept failing) is sent again, as its agent would.
// It returns the longest round and how many batches were given back.
func streamBatches(ctx context.Context, t *testing.T, s *store.Store, sites []string, rounds, size int, during func(round int)) (longest time.Duration, nacks int) {
	t.Helper()
	w := writer.New(s, writer.Options{MaxDelay: 50 * time.Millisecond, MaxRetryBackoff: time.Second, GiveUpAfter: 15 * time.Second}, nil)
	wctx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- w.Run(wctx) }()
	defer func() {
		stop()
		<-ran
	}()
	for r := range rounds {
		during(r)
		start := time.Now()
		pending := map[string]*store.Batch{}
		for _, site := range sites {
			b := storetest.Batches(site, uint64(r+1), 1, size)[0]
			for _, smp := range b.Samples { // distinct times per round
				smp.SourceTimeNs += int64(r) * int64(time.Hour)
			}
			pending[site] = b
		}
		for len(pending) > 0 {
			acks := make(chan [2]any, len(pending))
			for site, b := range pending {
				if err := w.Submit(ctx, b, func(err error) { acks <- [2]any{site, err} }); err != nil {
					t.Fatalf("submit: %v", err)
				}
			}
			for range len(pending) {
				a := <-acks
				if a[1] == nil {
					delete(pending, a[0].(string))
					continue
				}
				if store.IsPermanent(a[1].(error)) || ctx.Err() != nil {
					t.Fatalf("batch of %s refused: %v", a[0], a[1])
				}
				nacks++
			}
		}
		longest = max(longest, time.Since(start))
	}
	return longest, nacks
}

func TestClusterReplicaDown(t *testing.T) {
	c := chcluster.Start(t, chcluster.Layout{Shards: 1, Replicas: 2})
	s := openCluster(t, c, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sites := []string{"A", "B", "C"}
	rounds, size := 30, 500
	if clusterLong {
		rounds = 300
	}
	start := time.Now()
	longest, nacks := streamBatches(ctx, t, s, sites, rounds, size, func(r int) {
		switch r {
		case rounds / 3:
			if err := c.Nodes[1].Kill(); err != nil {
				t.Fatal(err)
			}
		case 2 * rounds / 3:
			if err := c.Nodes[1].Start(); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Logf("%d rounds in %s, longest %s, %d batches given back", rounds, time.Since(start), longest, nacks)
	want := uint64(rounds * size * len(sites))
	checkExactlyOnce(t, chtest.Conn(t, c.Nodes[0].Addr(), "default"), want, uint64(rounds*len(sites)))
	checkReplicasAgree(t, c)
	checkExactlyOnce(t, chtest.Conn(t, c.Nodes[1].Addr(), "default"), want, uint64(rounds*len(sites)))
}

func TestClusterZooKeeperDown(t *testing.T) {
	c := chcluster.Start(t, chcluster.Layout{Shards: 1, Replicas: 2})
	s := openCluster(t, c, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sites := []string{"A", "B", "C"}
	rounds, size := 40, 500
	outage := 20 * time.Second
	var stopped time.Time
	longest, nacks := streamBatches(ctx, t, s, sites, rounds, size, func(r int) {
		switch r {
		case rounds / 4:
			if err := c.ZK.Stop(); err != nil {
				t.Fatal(err)
			}
			stopped = time.Now()
			go func() {
				time.Sleep(outage)
				if err := c.ZK.Start(); err != nil {
					t.Error(err)
				}
			}()
		}
	})
	if stopped.IsZero() || time.Since(stopped) < outage {
		t.Fatalf("the stream ended before ZooKeeper came back")
	}
	// The round that met the outage waited for it: its inserts failed
	// until ZooKeeper was back.
	if longest < outage/2 {
		t.Fatalf("longest round %s: inserts went on while ZooKeeper was down", longest)
	}
	t.Logf("longest round %s, %d batches given back, ZooKeeper down for %s", longest, nacks, outage)
	want := uint64(rounds * size * len(sites))
	checkExactlyOnce(t, chtest.Conn(t, c.Nodes[0].Addr(), "default"), want, uint64(rounds*len(sites)))
	checkReplicasAgree(t, c)
}

func TestClusterShardsQueries(t *testing.T) {
	c := chcluster.Start(t, chcluster.Layout{Shards: 2, Replicas: 1})
	s := openCluster(t, c, 0)
	single := storetest.Open(t)
	// A replicated table drops a block identical to one it took (a re-sent
	// insert); the examples insert some twice on purpose, so that check is
	// off here to store the same data on both.
	ctx := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{"insert_deduplicate": 0}))
	seedExamplesWith(t, ctx, s)
	seedExamples(t, single)

	// The sites spread over both shards.
	for _, n := range c.Nodes {
		conn := chtest.Conn(t, n.Addr(), "default")
		if k := count(t, conn, "SELECT uniqExact(site_id) FROM lifeline.samples_local"); k == 0 {
			t.Errorf("shard %d holds no site", n.Shard)
		}
	}

	files, err := filepath.Glob(filepath.Join(queriesDir, "*.sql"))
	if err != nil || len(files) < 12 {
		t.Fatalf("example queries: %d files (%v)", len(files), err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			sql, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			// Catalog rows are stamped when written: seconds apart here.
			recent := recentTimes()
			mask := func(rows []string) []string {
				for i, r := range rows {
					rows[i] = recent.ReplaceAllString(r, "today")
				}
				return rows
			}
			want := mask(runQuery(t, single, string(sql)))
			got := mask(runQuery(t, s, string(sql)))
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("on two shards:\n%s\non one server:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}

	// The rollups the examples make drift (samples stored twice) are
	// repaired on the shards' local tables.
	from, to := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
	drift, err := s.RollupDrift(ctx, from, to, "")
	if err != nil || len(drift) == 0 {
		t.Fatalf("rollup drift on two shards: %v, %d buckets", err, len(drift))
	}
	if err := s.RepairRollups(ctx, drift); err != nil {
		t.Fatalf("repair rollups on two shards: %v", err)
	}
	if left, err := s.RollupDrift(ctx, from, to, ""); err != nil || len(left) != 0 {
		t.Fatalf("after the repair: %v, %d buckets drift: %+v", err, len(left), left)
	}
}

// TestClusterFromSingleServer follows docs/scaling.md, "From one server to
// a cluster": a single server's database moves aside, the cluster schema is
// made, and every table's parts are attached to the replicated tables
// (ATTACH PARTITION … FROM fires no view, so ledger and rollups are copied,
// not recomputed).
func TestClusterFromSingleServer(t *testing.T) {
	c := chcluster.Start(t, chcluster.Layout{Shards: 1, Replicas: 2})
	ctx := context.Background()

	// The server as it ran alone, before it joined the cluster.
	cfg := store.DefaultConfig()
	cfg.Addr, cfg.Database = c.Nodes[0].Addr(), clusterDB
	alone := store.New(cfg, slog.New(slog.DiscardHandler))
	if err := alone.Open(ctx); err != nil {
		t.Fatal(err)
	}
	seedExamples(t, alone)
	files, err := filepath.Glob(filepath.Join(queriesDir, "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	before := map[string][]string{}
	for _, f := range files {
		sql, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		before[f] = runQuery(t, alone, string(sql))
	}
	alone.Close()

	// Step 2: move the tables aside, drop the views.
	conn := chtest.Conn(t, c.Nodes[0].Addr(), "default")
	tables := engines(t, conn)
	exec := func(q string) {
		t.Helper()
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE DATABASE lifeline_single")
	for name, engine := range tables {
		if engine == "MaterializedView" {
			exec("DROP TABLE lifeline." + name)
		} else {
			exec("RENAME TABLE lifeline." + name + " TO lifeline_single." + name)
		}
	}

	// Step 3: the aggregator, configured with the cluster, makes the schema.
	s := openCluster(t, c, 0)

	// Step 4: every partition of every table attached to its local table.
	rows, err := conn.Query(ctx, "SELECT DISTINCT table, partition_id FROM system.parts WHERE database = 'lifeline_single' AND active")
	if err != nil {
		t.Fatal(err)
	}
	var parts [][2]string
	for rows.Next() {
		var table, id string
		if err := rows.Scan(&table, &id); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, [2]string{table, id})
	}
	rows.Close()
	for _, p := range parts {
		attach := "ALTER TABLE lifeline." + p[0] + store.LocalSuffix + " ATTACH PARTITION ID '" + p[1] + "' FROM lifeline_single." + p[0]
		err := conn.Exec(ctx, attach)
		if err != nil && strings.Contains(err.Error(), "Node exists") {
			// 18.16 refuses a partition holding two identical parts (a
			// block written twice): merged first, it attaches.
			exec("OPTIMIZE TABLE lifeline_single." + p[0] + " PARTITION ID '" + p[1] + "' FINAL")
			err = conn.Exec(ctx, attach)
		}
		if err != nil {
			t.Fatalf("%s: %v", attach, err)
		}
	}

	// Every query answers as before, through either replica.
	second := openCluster(t, c, 1)
	checkReplicasAgree(t, c)
	for _, st := range []*store.Store{s, second} {
		for _, f := range files {
			sql, _ := os.ReadFile(f)
			if got := runQuery(t, st, string(sql)); strings.Join(got, "\n") != strings.Join(before[f], "\n") {
				t.Errorf("%s on %s after the move:\n%s\nbefore:\n%s", filepath.Base(f), st.Config().Addr,
					strings.Join(got, "\n"), strings.Join(before[f], "\n"))
			}
		}
	}
	// The ledger came along: a batch stored before is not stored again.
	n := count(t, conn, "SELECT count() FROM lifeline.samples")
	if err := s.Insert(ctx, storetest.Batches("S1", 1, 1, 10)); err != nil {
		t.Fatal(err)
	}
	if m := count(t, conn, "SELECT count() FROM lifeline.samples"); m != n {
		t.Errorf("a batch committed before the move was stored again: %d rows, then %d", n, m)
	}
}

// TestClusterInsertRate measures what an insert through the Distributed
// table (insert_distributed_sync = 1) costs against one server, for
// docs/scaling.md. It checks only that every row arrived.
func TestClusterInsertRate(t *testing.T) {
	c := chcluster.Start(t, chcluster.Layout{Shards: 1, Replicas: 2})
	rounds := 10
	if clusterLong {
		rounds = 50
	}
	const perRound, size = 10, 2000 // 20,000 samples an insert, as the writer groups them
	rate := func(s *store.Store, site string) float64 {
		start := time.Now()
		for r := range rounds {
			batches := storetest.Batches(site, uint64(r*perRound+1), perRound, size)
			for _, b := range batches {
				for _, smp := range b.Samples {
					smp.SourceTimeNs += int64(r) * int64(time.Hour)
				}
			}
			if err := s.Insert(context.Background(), batches); err != nil {
				t.Fatal(err)
			}
		}
		return float64(rounds*perRound*size) / time.Since(start).Seconds()
	}
	single := rate(storetest.Open(t), "R")
	cs := openCluster(t, c, 0)
	z0, err := c.ZK.Zxid()
	if err != nil {
		t.Fatal(err)
	}
	cluster := rate(cs, "R")
	z1, err := c.ZK.Zxid()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("store inserts of %d samples: one server %.0f samples/s, Distributed over 2 replicas %.0f samples/s (%.2f×); "+
		"%.1f ZooKeeper transactions per insert", perRound*size, single, cluster, cluster/single, float64(z1-z0)/float64(rounds))
	conn := chtest.Conn(t, c.Nodes[0].Addr(), "default")
	if n := count(t, conn, "SELECT count() FROM lifeline.samples"); n != uint64(rounds*perRound*size) {
		t.Fatalf("%d rows on the cluster, want %d", n, rounds*perRound*size)
	}
}
