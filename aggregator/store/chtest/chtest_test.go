package chtest_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func open(t *testing.T, addr, db string) clickhouse.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{addr},
		Auth: clickhouse.Auth{Database: db},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestAddrAndDatabase(t *testing.T) {
	addr := chtest.Addr(t)
	if again := chtest.Addr(t); again != addr {
		t.Fatalf("Addr changed: %s then %s", addr, again)
	}
	db := chtest.Database(t, addr)
	conn := open(t, addr, db)
	ctx := context.Background()
	if err := conn.Exec(ctx, "CREATE TABLE t (x UInt8) ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ?", db).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("tables in %s = %d, want 1", db, n)
	}
}

// TestStopStart proves a server started on a directory keeps its address
// and its data across Stop/Start and Kill/Start.
func TestStopStart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts clickhouse-server")
	}
	chtest.Addr(t) // skips or fails the same way when no server is installed
	srv, err := chtest.StartServer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	ctx := context.Background()
	conn := open(t, srv.Addr(), "default")
	if err := conn.Exec(ctx, "CREATE TABLE kept (x UInt32) ENGINE = MergeTree ORDER BY x"); err != nil {
		t.Fatal(err)
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO kept (x)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Column(0).Append([]uint32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	for _, stop := range []struct {
		name string
		fn   func() error
	}{{"Stop", srv.Stop}, {"Kill", srv.Kill}} {
		running := srv.Pid()
		if err := stop.fn(); err != nil {
			t.Fatalf("%s: %v", stop.name, err)
		}
		if running == 0 || srv.Pid() != 0 {
			t.Errorf("Pid %d while running, %d after %s; want a process ID, then 0", running, srv.Pid(), stop.name)
		}
		if c, err := net.DialTimeout("tcp", srv.Addr(), time.Second); err == nil {
			c.Close()
			t.Fatalf("server still listens after %s", stop.name)
		}
		if err := srv.Start(); err != nil {
			t.Fatalf("Start after %s: %v", stop.name, err)
		}
		conn2 := open(t, srv.Addr(), "default")
		var n uint64
		if err := conn2.QueryRow(ctx, "SELECT count() FROM kept").Scan(&n); err != nil {
			t.Fatalf("after %s: %v", stop.name, err)
		}
		if n != 3 {
			t.Fatalf("after %s: %d rows, want 3", stop.name, n)
		}
	}
}
