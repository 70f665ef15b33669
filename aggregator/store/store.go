package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ErrNotOpen is returned by methods that need a connection before Open
// succeeded or after Close.
var ErrNotOpen = errors.New("store: not open")

// Store is Lifeline's ClickHouse database. Its methods are safe for
// concurrent use once Open has returned.
type Store struct {
	cfg    Config
	logger *slog.Logger
	pool   sync.Pool // *columns reused by Insert
	boxes  boxCache  // point IDs boxed for LowCardinality appends
	// unsettled holds inserts whose reply was lost; see unsettledInserts.
	unsettled unsettledInserts

	mu   sync.RWMutex
	conn driver.Conn
	// inserts carries the samples inserts (see Config.Inserts); nil
	// after Attach alone, when conn carries them.
	inserts driver.Conn
	caps    Capabilities
	closed  bool
}

// New returns a Store for cfg. It does no I/O; call Open.
func New(cfg Config, logger *slog.Logger) *Store {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Store{cfg: cfg, logger: logger}
}

// Open validates the config, connects, creates the database if missing,
// detects the server's capabilities and migrates the schema.
func (s *Store) Open(ctx context.Context) error {
	if err := s.cfg.Validate(); err != nil {
		return fmt.Errorf("store config: %w", err)
	}
	s.mu.Lock()
	if s.conn != nil || s.closed {
		s.mu.Unlock()
		return errors.New("store: Open called twice")
	}
	s.mu.Unlock()

	if err := s.createDatabase(ctx); err != nil {
		return err
	}
	conn, err := clickhouse.Open(s.options(s.cfg.Database))
	if err != nil {
		return fmt.Errorf("connect clickhouse %s: %w", s.cfg.Addr, err)
	}
	if err := s.Attach(ctx, conn); err != nil {
		return fmt.Errorf("clickhouse %s: %w", s.cfg.Addr, err)
	}
	inserts, err := clickhouse.Open(s.insertOptions())
	if err != nil {
		return fmt.Errorf("connect clickhouse %s for inserts: %w", s.cfg.Addr, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		inserts.Close()
		return ErrNotOpen
	}
	s.inserts = inserts
	return nil
}

// Attach uses conn, already open on the store's database, instead of
// dialling Addr: it detects the server's capabilities and migrates the
// schema. The Store owns conn from then on (Close closes it, also when
// Attach fails). Open uses it; tests use it for ClickHouse engines that
// have no network server.
func (s *Store) Attach(ctx context.Context, conn driver.Conn) error {
	caps, err := detectCapabilities(ctx, conn)
	if err != nil {
		conn.Close()
		return err
	}
	s.mu.Lock()
	if s.conn != nil || s.closed {
		s.mu.Unlock()
		conn.Close()
		return ErrNotOpen
	}
	s.conn, s.caps = conn, caps
	s.mu.Unlock()
	s.logger.Info("clickhouse connected", "addr", s.cfg.Addr, "database", s.cfg.Database,
		"version", caps.Version, "datetime64", caps.DateTime64, "low_cardinality", caps.LowCardinality,
		"codecs", caps.Codecs, "ttl", caps.TTL, "nullable_states", caps.NullableStates, "dimensions_setting", caps.DimensionsSetting)
	return s.Migrate(ctx)
}

// createDatabase connects to the "default" database to create ours, which
// may not exist yet.
func (s *Store) createDatabase(ctx context.Context) error {
	conn, err := clickhouse.Open(s.options("default"))
	if err != nil {
		return fmt.Errorf("connect clickhouse %s: %w", s.cfg.Addr, err)
	}
	defer conn.Close()
	// Database is validated as a plain identifier.
	stmt := "CREATE DATABASE IF NOT EXISTS " + s.cfg.Database
	if s.cfg.Cluster != "" {
		stmt += " ON CLUSTER " + s.cfg.Cluster
	}
	if err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("create database %s on %s: %w", s.cfg.Database, s.cfg.Addr, err)
	}
	return nil
}

func (s *Store) options(database string) *clickhouse.Options {
	var settings clickhouse.Settings
	if s.cfg.Cluster != "" {
		settings = clusterSettings()
	}
	return &clickhouse.Options{
		Settings: settings,
		Protocol: clickhouse.Native,
		Addr:     s.cfg.Addrs(),
		Auth: clickhouse.Auth{
			Database: database,
			Username: s.cfg.Username,
			Password: s.cfg.Password,
		},
		DialTimeout:  s.cfg.DialTimeout,
		ReadTimeout:  s.cfg.ReadTimeout,
		Compression:  &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		MaxOpenConns: 16,
		MaxIdleConns: 8,
		// A connection keeps the encode and compress buffers of the
		// largest block it sent, and the pool hands inserts to any idle
		// one: with 100,000-row inserts each idle connection held tens of
		// MB (~110 MB of the aggregator's heap at 100 agents, make bench).
		// Freed on release, an insert allocates its buffers afresh.
		FreeBufOnConnRelease: true,
	}
}

// insertOptions are the options of the samples inserts' connections. At
// 100 agents, the buffers a connection allocated afresh for every insert
// were a quarter of all the aggregator allocated, and their collection a
// good part of its CPU (make bench, ingest). Kept by as many connections as
// inserts run at once, they are a bounded few MB each. What an insert
// still allocates, about 500 bytes a row, is the driver's columns, built
// anew for every batch and grown by appends; ch-go, whose columns could be
// ours and reused, cannot talk to 18.16 (the server refuses its query
// packet's settings as "Unknown setting", even with the protocol revision
// forced down to 18.16's).
func (s *Store) insertOptions() *clickhouse.Options {
	o := s.options(s.cfg.Database)
	n := s.cfg.Inserts
	if n <= 0 {
		n = 2
	}
	o.MaxOpenConns, o.MaxIdleConns = n, n
	o.FreeBufOnConnRelease = false
	return o
}

// Close closes the connection. It is idempotent and safe without Open.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	if s.inserts != nil {
		err = errors.Join(err, s.inserts.Close())
		s.inserts = nil
	}
	return err
}

// Config returns the configuration the Store was made with.
func (s *Store) Config() Config { return s.cfg }

// Capabilities are the server features detected by Open.
func (s *Store) Capabilities() Capabilities {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.caps
}

// insertConn returns the connection for samples inserts: conn, the one
// the rest of the insert used, when there is none of their own (Attach
// alone, or the Store closed meanwhile, which conn then reports).
func (s *Store) insertConn(conn driver.Conn) driver.Conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.inserts != nil {
		return s.inserts
	}
	return conn
}

func (s *Store) connCaps() (driver.Conn, Capabilities, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.conn == nil {
		return nil, Capabilities{}, ErrNotOpen
	}
	return s.conn, s.caps, nil
}
