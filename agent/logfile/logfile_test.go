package logfile

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestRotatesBySizeAndKeepsN(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "agent.log")
	l := New(path, 100, 2)
	line := strings.Repeat("x", 39) + "\n" // 40 bytes: two fit in 100, a third does not
	for i := range 10 {
		if _, err := fmt.Fprintf(l, "%d%s", i, line[1:]); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Lines 0–9 in files of two: current holds 8–9, .1 holds 6–7, .2 holds 4–5, the rest are gone.
	for name, first := range map[string]byte{"agent.log": '8', "agent.log.1": '6', "agent.log.2": '4'} {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(path), name))
		if err != nil {
			t.Fatal(err)
		}
		if len(data) != 80 || data[0] != first || data[40] != first+1 {
			t.Errorf("%s = %q, want lines %c and %c", name, data, first, first+1)
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("agent.log.3 exists (err %v); only 2 rotated files are kept", err)
	}
}

func TestAppendsToAnExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.log")
	if err := os.WriteFile(path, []byte("before restart\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := New(path, 1<<20, 3)
	fmt.Fprintln(l, "after restart")
	l.Close()
	if data, _ := os.ReadFile(path); string(data) != "before restart\nafter restart\n" {
		t.Errorf("file = %q", data)
	}
}

// Records written from many goroutines through slog stay whole lines, in
// whichever file they land.
func TestConcurrentRecordsStayWhole(t *testing.T) {
	dir := t.TempDir()
	l := New(filepath.Join(dir, "agent.log"), 4096, 50)
	log := slog.New(slog.NewTextHandler(l, nil))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				log.Info("sample", "g", g, "i", i)
			}
		})
	}
	wg.Wait()
	l.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "agent.log*"))
	lines := 0
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if len(data) > 4096 {
			t.Errorf("%s holds %d bytes, over the 4096 limit", f, len(data))
		}
		for _, ln := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
			if !bytes.Contains(ln, []byte("msg=sample g=")) {
				t.Errorf("%s: broken line %q", f, ln)
			}
			lines++
		}
	}
	if lines != 1600 {
		t.Errorf("%d lines in %d files, want 1600", lines, len(files))
	}
}
