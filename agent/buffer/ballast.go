package buffer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The reserve is a file of real blocks the queue keeps in its directory
// while the disk has room, and deletes when the disk runs out, so that
// Badger can still open (it rewrites its LOCK file and starts a new
// memtable log) and the queue can still write its small records after
// another program has filled the disk to the last byte. Without it a
// restart on a full disk fails on "Cannot write pid file LOCK".
const reserveName = "lifeline-reserve"

// maxReserve bounds the reserve; it is a quarter of the floor up to this.
const maxReserve = 16 << 20

func (g *spaceGuard) reserveSize() int64 { return min(maxReserve, int64(g.floor/4)) }

func (g *spaceGuard) reservePath() string { return filepath.Join(g.dir, reserveName) }

// releaseReserve deletes the reserve, if there is one, to give Badger room.
func (g *spaceGuard) releaseReserve() {
	err := os.Remove(g.reservePath())
	switch {
	case err == nil:
		g.log.Warn("disk nearly full: released the buffer's reserve file so the buffer can keep working",
			"reserve_bytes", g.reserveSize())
	case !errors.Is(err, fs.ErrNotExist):
		g.log.Error("release the buffer's reserve file", "err", err)
	}
}

// keepReserve creates the reserve when it is missing and the disk has
// room for it above the floor.
func (g *spaceGuard) keepReserve() error {
	size := g.reserveSize()
	if size <= 0 {
		return nil
	}
	path := g.reservePath()
	if st, err := os.Stat(path); err == nil && st.Size() == size {
		return nil
	}
	if low, _ := g.state(); low || !g.room(uint64(size)+g.resumeMargin()) {
		return nil
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("create reserve %s: %w", tmp, err)
	}
	// Written, not truncated: a sparse file would reserve nothing.
	buf := make([]byte, 1<<20)
	for left := size; left > 0 && err == nil; left -= int64(len(buf)) {
		_, err = f.Write(buf[:min(int64(len(buf)), left)])
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("create reserve %s: %w", path, err)
	}
	return nil
}
