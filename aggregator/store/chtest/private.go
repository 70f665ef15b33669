package chtest

import (
	"errors"
	"os"
	"testing"
)

// Private starts a clickhouse-server of the test's own in a temporary
// directory and kills it when the test ends, for tests that change the
// server's configuration (users.d, config.d). Write files under
// UsersDir(s); ClickHouse reloads them within seconds. Without a binary the
// test is skipped, or fails when the CI environment variable is set.
func Private(t testing.TB) *Server {
	t.Helper()
	s, err := StartServer(t.TempDir())
	switch {
	case errors.Is(err, ErrNoServer):
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	case err != nil:
		t.Fatalf("start clickhouse: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Kill(); err != nil {
			t.Logf("kill clickhouse: %v", err)
		}
	})
	return s
}

// UsersDir is the users.d directory ClickHouse merges into the server's
// users.xml.
func (s *Server) UsersDir() string { return s.cfg.Dir + "/users.d" }
