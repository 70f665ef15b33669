package buffer

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory, to run a
// queue on a disk that really fills up. It needs root: without root it
// skips, unless CI is set, where it fails.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("mounting a tmpfs needs root, and CI is set")
		}
		t.Skip("mounting a tmpfs needs root; run as root to test a full disk")
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("mount tmpfs on %s: %v: %s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fillTo writes a file in dir until the filesystem has about leave bytes
// free, and returns its path (remove it to free the space).
func fillTo(t *testing.T, dir string, leave uint64) string {
	t.Helper()
	free, err := diskFree(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for free > leave {
		n := min(uint64(len(buf)), free-leave)
		if _, err := f.Write(buf[:n]); err != nil {
			break // full: nothing is left to leave
		}
		if free, err = diskFree(dir); err != nil {
			t.Fatal(err)
		}
	}
	return path
}
