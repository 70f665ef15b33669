package bench

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	_ "github.com/ClickHouse/clickhouse-go/v2" // database/sql driver "clickhouse", as outputs.sql uses it

	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func TestTelegrafConfigSplitsNodesOverInputs(t *testing.T) {
	nodes := []string{"nsu=urn:x;s=Load.P00001", "nsu=urn:x;s=Load.P00002", `nsu=urn:"q"\;s=Load.P00003`, "nsu=urn:x;s=Load.P00004", "nsu=urn:x;s=Load.P00005"}
	cfg := telegrafConfig(telegrafSetup{
		Endpoint: "opc.tcp://127.0.0.1:4840", Nodes: nodes, PerInput: 2,
		Publishing: 50 * time.Millisecond, Sampling: 100 * time.Millisecond, QueueSize: 100,
		Metric: "load", DSN: "clickhouse://127.0.0.1:9000/db", Strategy: "disk", BufferDir: "/tmp/buf",
		BatchSize: 20000, BufferLimit: 1000000, Flush: 200 * time.Millisecond,
	})
	for _, want := range []string{
		`metric_batch_size = 20000`, `metric_buffer_limit = 1000000`, `flush_interval = "200ms"`,
		`buffer_strategy = "disk"`, `buffer_directory = "/tmp/buf"`, `omit_hostname = true`,
		`subscription_interval = "50ms"`, `sampling_interval = "100ms"`, `queue_size = 100`, `timestamp = "source"`,
		`id = "nsu=urn:\"q\"\\;s=Load.P00003"`, `driver = "clickhouse"`, `data_source_name = "clickhouse://127.0.0.1:9000/db"`,
		`batch_transactions = true`,
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %s:\n%s", want, cfg)
		}
	}
	if n := strings.Count(cfg, "[[inputs.opcua_listener]]"); n != 3 {
		t.Errorf("%d inputs, want 3 (5 nodes, 2 per input)", n)
	}
	if n := strings.Count(cfg, "[[inputs.opcua_listener.nodes]]"); n != len(nodes) {
		t.Errorf("%d nodes, want %d", n, len(nodes))
	}
	// Every node of an input comes before the next input, and the output
	// after every input: TOML tables take the keys that follow them.
	last := strings.LastIndex(cfg, "[[inputs.opcua_listener.nodes]]")
	if out := strings.Index(cfg, "[[outputs.sql]]"); out < last {
		t.Errorf("outputs.sql before the last node")
	}
}

func TestParseTelegrafLog(t *testing.T) {
	log := `2026-12-02T07:30:00Z I! Loaded inputs: opcua_listener (4x)
2026-12-02T07:30:01Z W! [outputs.sql] Metric buffer overflow; 1200 metrics have been dropped
2026-12-02T07:30:02Z E! [outputs.sql] Error writing to outputs.sql: execution failed: code: 60
2026-12-02T07:30:03Z W! [outputs.sql] Metric buffer overflow; 34 metrics have been dropped
2026-12-02T07:30:04Z E! [agent] Error writing to outputs.sql: again
`
	got := parseTelegrafLog(log)
	if got.Dropped != 1234 || got.Errors != 2 || got.FirstError != "[outputs.sql] Error writing to outputs.sql: execution failed: code: 60" {
		t.Fatalf("parsed %+v", got)
	}
	if got := parseTelegrafLog(""); got != (telegrafLog{}) {
		t.Fatalf("empty log parsed as %+v", got)
	}
}

// Telegraf's outputs.sql hands clickhouse-go a time.Time for the timestamp
// column; into the String column of telegrafTableSQL it goes as text, and
// ts_ns must come out with every nanosecond, on ClickHouse 18.16.
func TestTelegrafTableKeepsNanoseconds(t *testing.T) {
	addr := chtest.Addr(t)
	dbName := chtest.Database(t, addr)
	ctx := context.Background()
	conn := chtest.Conn(t, addr, dbName)
	if err := conn.Exec(ctx, telegrafTableSQL(dbName, "load")); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("clickhouse", fmt.Sprintf("clickhouse://%s/%s?compress=lz4", addr, dbName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	times := []time.Time{
		time.Date(2026, 12, 2, 7, 30, 1, 0, time.UTC),
		time.Date(2026, 12, 2, 7, 30, 1, 100_000_000, time.UTC),
		time.Date(2026, 12, 2, 7, 30, 1, 120_000_000, time.UTC),
		time.Date(2026, 12, 2, 7, 30, 59, 999_999_999, time.UTC),
		time.Date(2026, 12, 2, 7, 30, 2, 10_000, time.UTC),
	}
	// As outputs.sql's sendBatch does it.
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := tx.Prepare(`INSERT INTO "load" ("timestamp","id","Quality","value") VALUES(?,?,?,?)`)
	if err != nil {
		t.Fatal(err)
	}
	for i, ts := range times {
		if _, err := stmt.Exec(ts, fmt.Sprintf("P%d", i), "The operation succeeded.", float64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	stmt.Close()
	rows, err := conn.Query(ctx, "SELECT id, ts_ns FROM load ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var id string
		var ns int64
		if err := rows.Scan(&id, &ns); err != nil {
			t.Fatal(err)
		}
		if want := times[i].UnixNano(); id != fmt.Sprintf("P%d", i) || ns != want {
			t.Errorf("%s: ts_ns %d, want %d (%s)", id, ns, want, times[i])
		}
	}
	if err := rows.Err(); err != nil || i != len(times) {
		t.Fatalf("%d rows (%v), want %d", i, err, len(times))
	}
}
