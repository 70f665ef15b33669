package chdbtest

import (
	"errors"
	"os"
	"testing"
)

// Open starts a chdb session in a temporary directory and returns a Conn on
// it, closed when the test ends. Without node or chdb the test is skipped,
// or fails when the CI environment variable is set.
func Open(t testing.TB) *Conn {
	t.Helper()
	s, err := Start(t.TempDir())
	if errors.Is(err, ErrMissing) {
		if os.Getenv("CI") != "" {
			t.Fatalf("chdb is required under CI: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close chdb: %v", err)
		}
	})
	return NewConn(s)
}
