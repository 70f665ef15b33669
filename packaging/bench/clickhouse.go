package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

// clickHouse is the server the run measures against: the one named by
// LIFELINE_CLICKHOUSE_ADDR, or one started in the run's directory.
type clickHouse struct {
	addr    string
	server  *chtest.Server // nil when not ours
	version string
}

func startClickHouse(ctx context.Context, dir string) (*clickHouse, error) {
	ch := &clickHouse{addr: os.Getenv(chtest.AddrEnv)}
	if ch.addr == "" {
		srv, err := chtest.StartServer(filepath.Join(dir, "clickhouse"))
		if err != nil {
			return nil, err
		}
		ch.server, ch.addr = srv, srv.Addr()
	}
	conn, err := ch.open("default")
	if err != nil {
		ch.stop()
		return nil, err
	}
	defer conn.Close()
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&ch.version); err != nil {
		ch.stop()
		return nil, fmt.Errorf("clickhouse %s: %w", ch.addr, err)
	}
	return ch, nil
}

// pid is the server's process ID, 0 when it is not ours to measure.
func (ch *clickHouse) pid() int {
	if ch.server == nil {
		return 0
	}
	return ch.server.Pid()
}

func (ch *clickHouse) stop() {
	if ch.server != nil {
		_ = ch.server.Stop()
	}
}

// open connects to database db the way the aggregator does: native
// protocol, LZ4 on the wire.
func (ch *clickHouse) open(db string) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:    clickhouse.Native,
		Addr:        []string{ch.addr},
		Auth:        clickhouse.Auth{Database: db},
		DialTimeout: 5 * time.Second,
		ReadTimeout: 5 * time.Minute,
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
	})
	if err != nil {
		return nil, fmt.Errorf("connect clickhouse %s: %w", ch.addr, err)
	}
	return conn, nil
}

// freshDatabase drops and creates db.
func (ch *clickHouse) freshDatabase(ctx context.Context, db string) error {
	conn, err := ch.open("default")
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
		return fmt.Errorf("drop database %s: %w", db, err)
	}
	if err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		return fmt.Errorf("create database %s: %w", db, err)
	}
	return nil
}

// dropDatabase removes db, ignoring errors: the run is over.
func (ch *clickHouse) dropDatabase(db string) {
	conn, err := ch.open("default")
	if err != nil {
		return
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db)
}
