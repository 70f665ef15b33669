package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// AddrEnv names the environment variable that points tests at an existing
// ClickHouse native endpoint (host:port) instead of starting one.
const AddrEnv = "LIFELINE_CLICKHOUSE_ADDR"

// shared is the server this test process started for Addr.
var shared struct {
	once   sync.Once
	server *Server
	dir    string
	err    error
}

// Main runs the tests, stops the server Addr started (if any), removes its
// directory and exits with the tests' code. Call it from TestMain.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit, for a TestMain with cleanup of its own.
func Run(m *testing.M) int {
	code := m.Run()
	if err := stopShared(); err != nil {
		fmt.Fprintln(os.Stderr, "chtest:", err)
	}
	return code
}

func stopShared() error {
	// Mark the once as used so that nothing can start a server after this.
	shared.once.Do(func() { shared.err = errors.New("chtest: stopped") })
	var errs []error
	if shared.server != nil {
		errs = append(errs, shared.server.Stop())
	}
	if shared.dir != "" {
		errs = append(errs, os.RemoveAll(shared.dir))
	}
	return errors.Join(errs...)
}

// Addr returns the host:port of a ClickHouse native endpoint: the value of
// LIFELINE_CLICKHOUSE_ADDR, or else a clickhouse-server this process starts
// once and Main stops. Without a binary the test is skipped, or fails when
// the CI environment variable is set.
func Addr(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv(AddrEnv); addr != "" {
		return addr
	}
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "lifeline-clickhouse-")
		if err != nil {
			shared.err = err
			return
		}
		shared.dir = dir
		shared.server, shared.err = StartServer(dir)
	})
	switch {
	case errors.Is(shared.err, ErrNoServer):
		if os.Getenv("CI") != "" {
			t.Fatal(shared.err)
		}
		t.Skip(shared.err)
	case shared.err != nil:
		t.Fatalf("start clickhouse: %v", shared.err)
	}
	return shared.server.Addr()
}

// Database creates a database with a fresh name on the server at addr,
// drops it when the test ends and returns its name.
func Database(t testing.TB, addr string) string {
	t.Helper()
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	name := "lifeline_test_" + hex.EncodeToString(rnd[:])
	if err := execSQL(addr, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := execSQL(addr, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return name
}

// Conn opens a connection to database db on the server at addr, for a test
// to check tables directly, and closes it when the test ends.
func Conn(t testing.TB, addr, db string) clickhouse.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{addr},
		Auth:        clickhouse.Auth{Database: db},
		DialTimeout: 5 * time.Second,
		ReadTimeout: time.Minute,
	})
	if err != nil {
		t.Fatalf("connect clickhouse %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// execSQL runs one statement on a short-lived connection. The bound is for
// a loaded machine: dropping a database of many small parts there took
// over 30 s.
func execSQL(addr, query string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{addr},
		DialTimeout: 5 * time.Second,
		ReadTimeout: 2 * time.Minute,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Exec(ctx, query)
}
