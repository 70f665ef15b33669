package buffer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// damage rewrites the first file in dir matching pattern.
func damage(t *testing.T, dir, pattern string, f func([]byte) []byte) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s in %s (%v)", pattern, dir, err)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files[0], f(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptionIsQuarantined(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		damage  func([]byte) []byte
		want    string
	}{
		{"manifest bad magic", "MANIFEST", func(b []byte) []byte { b[0] ^= 0xff; return b }, "bad magic"},
		// Badger would panic in one of its own goroutines on this one.
		{"truncated table", "*.sst", func(b []byte) []byte { return b[:len(b)/2] }, "damaged table"},
		{"truncated key registry", "KEYREGISTRY", func(b []byte) []byte { return b[:8] }, "sanity text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "queue")
			q, err := Open(dir, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			// Enough data for a memtable flush at Close, so a table exists.
			for i := range 100 {
				mustAppend(t, q, payload(uint64(i), 40<<10))
			}
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			damage(t, dir, tc.pattern, tc.damage)

			q = openQueue(t, dir, testOptions())
			cerr := q.Quarantined()
			if cerr == nil {
				t.Fatal("Quarantined() = nil after opening a damaged queue")
			}
			if !strings.Contains(cerr.Error(), tc.want) || cerr.Dir != dir {
				t.Fatalf("CorruptionError = %v, want one about %q in %s", cerr, tc.want, dir)
			}
			if !strings.HasPrefix(cerr.QuarantinedTo, dir+".corrupt-") {
				t.Fatalf("QuarantinedTo = %q", cerr.QuarantinedTo)
			}
			if _, err := os.Stat(filepath.Join(cerr.QuarantinedTo, "MANIFEST")); err != nil {
				t.Fatalf("damaged files not kept: %v", err)
			}
			wantStats(t, q, 0, 0, 0)
			if seq := mustAppend(t, q, []byte("fresh")); seq != fresh(1) {
				t.Fatalf("first seq in the fresh queue = %d", seq)
			}
		})
	}
}

func TestCleanOpenNotQuarantined(t *testing.T) {
	q := openQueue(t, t.TempDir(), testOptions())
	if c := q.Quarantined(); c != nil {
		t.Fatalf("Quarantined() = %v on a fresh queue", c)
	}
}
