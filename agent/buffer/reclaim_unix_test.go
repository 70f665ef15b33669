//go:build unix

package buffer

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
)

// diskUsage is the space dir's files occupy (Badger preallocates sparse
// files, so apparent sizes overstate it). Badger's compactors run while it
// counts: a table removed between listing and stat takes no space.
func diskUsage(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		n += fi.Sys().(*syscall.Stat_t).Blocks * 512
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDiskSpaceReturnsAfterDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 200 MiB")
	}
	const (
		valueSize = 40 << 10
		total     = 200 << 20
	)
	dir := t.TempDir()
	o := testOptions()
	o.SyncWrites = false // durability is not under test; keeps it fast
	q, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed { // a failure before Close: stop Badger before TempDir's cleanup
			q.Close()
		}
	}()
	v := payload(1, valueSize) // random: Snappy cannot shrink it
	var all []uint64
	for range total / valueSize {
		all = append(all, mustAppend(t, q, v))
	}
	full := diskUsage(t, dir)
	for i := 0; i < len(all); i += 1000 {
		if err := q.Delete(all[i:min(i+1000, len(all))]...); err != nil {
			t.Fatal(err)
		}
	}
	// Close flushes the memtable holding the last delete markers.
	closed = true
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = openQueue(t, dir, o)
	if err := q.reclaim(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	drained := diskUsage(t, dir)
	t.Logf("disk usage: %d MiB full, %d MiB drained", full>>20, drained>>20)
	if full < total/2 {
		t.Fatalf("full queue uses only %d bytes on disk", full)
	}
	if drained > full/5 {
		t.Fatalf("after drain and GC the queue still uses %d MiB (full: %d MiB)", drained>>20, full>>20)
	}
}
