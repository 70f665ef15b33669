//go:build linux || darwin || freebsd || netbsd || openbsd

package buffer

import (
	"fmt"
	"syscall"
)

// diskFree returns the bytes an unprivileged writer may still use on the
// filesystem holding dir (statfs f_bavail: root's reserved blocks are
// not counted, so the floor holds before the disk is full for root).
func diskFree(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
