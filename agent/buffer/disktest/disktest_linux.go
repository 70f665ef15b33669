// Package disktest gives tests a filesystem that really fills up: a small
// tmpfs of their own, and a file that takes its free space.
package disktest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// CanMount reports whether this process may mount a tmpfs (it needs root).
func CanMount() bool { return os.Geteuid() == 0 }

// Tmpfs mounts a tmpfs of size bytes on a fresh directory, unmounted when
// the test ends. Without root it skips, unless CI is set, where it fails:
// a full disk is one of the faults CI must prove.
func Tmpfs(t testing.TB, size int64) string {
	t.Helper()
	if !CanMount() {
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
		// Lazily: a process the test started may still hold a file open.
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// Free returns the bytes an unprivileged writer may still use in dir's
// filesystem.
func Free(t testing.TB, dir string) uint64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Bavail * uint64(st.Bsize)
}

// Fill writes a file in dir until the filesystem has about leave bytes
// free, and returns its path: remove it to give the space back.
func Fill(t testing.TB, dir string, leave uint64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for free := Free(t, dir); free > leave; free = Free(t, dir) {
		if _, err := f.Write(buf[:min(uint64(len(buf)), free-leave)]); err != nil {
			break // full: nothing is left to leave
		}
	}
	return path
}
