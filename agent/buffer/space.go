package buffer

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// ErrNoSpace marks a write refused because the buffer's filesystem is
// below Options.MinFreeBytes or full.
var ErrNoSpace = errors.New("no space left for the buffer")

// spaceGuard keeps Badger off a full disk. Badger writes its memtable log
// and its tables through memory maps: on a full filesystem a write to a
// page not yet backed by disk is a SIGBUS that kills the process, not an
// error. So data is kept out of Badger while the free space is under the
// floor, and taken back in once it is a margin above it.
type spaceGuard struct {
	dir   string
	floor uint64
	log   *slog.Logger

	mu     sync.Mutex
	isLow  bool
	last   uint64 // free bytes at the last check
	broken bool   // free space cannot be read here; logged once
}

// resumeMargin is how far above the floor the free space must climb
// before data goes to disk again, so that the queue does not flap.
func (g *spaceGuard) resumeMargin() uint64 { return max(g.floor/8, 1<<20) }

// low reports whether data must be kept out of Badger now.
func (g *spaceGuard) low() bool {
	free, err := diskFree(nearestDir(g.dir))
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		if !g.broken {
			g.broken = true
			g.log.Warn("cannot read the buffer's free space; the free-space floor is not checked", "err", err)
		}
		return g.isLow
	}
	g.last = free
	if free < uint64(g.reserveSize()) {
		// Another program is filling the disk to the brim: even the
		// queue's small records would fail (or fault) now.
		g.releaseReserve()
	}
	switch {
	case !g.isLow && g.floor > 0 && free < g.floor:
		g.isLow = true
		g.log.Warn("DISK LOW: free space under buffer.min_free_bytes; new batches are held in memory (bounded) and sent from there",
			"free_bytes", free, "min_free_bytes", g.floor)
	case g.isLow && free >= g.floor+g.resumeMargin():
		g.isLow = false
		g.log.Info("disk space back above buffer.min_free_bytes; buffering to disk again", "free_bytes", free, "min_free_bytes", g.floor)
	}
	return g.isLow
}

// full records that Badger itself reported the disk full.
func (g *spaceGuard) full() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.isLow {
		g.isLow = true
		g.log.Warn("DISK FULL: the buffer could not write; new batches are held in memory (bounded) and sent from there")
	}
}

// state returns whether the guard holds data out of Badger, and the free
// bytes seen last.
func (g *spaceGuard) state() (low bool, free uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.isLow, g.last
}

// room reports whether n more bytes can be written while keeping the
// floor, for maintenance that rewrites files (Flatten, value log GC).
func (g *spaceGuard) room(n uint64) bool {
	free, err := diskFree(nearestDir(g.dir))
	if err != nil {
		return true
	}
	return free >= n+g.floor
}

// isNoSpace recognises a full filesystem or quota in an error, which
// Badger often formats with %v, hiding it from errors.Is.
func isNoSpace(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, ErrNoSpace) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "no space left") || strings.Contains(msg, "disk quota exceeded") ||
		strings.Contains(msg, "There is not enough space on the disk")
}

// Disk reports whether new entries are kept off the disk because it is
// below Options.MinFreeBytes (or full), and the free bytes last seen on
// the buffer's filesystem.
func (q *Queue) Disk() (low bool, free uint64) { return q.space.state() }

// nearestDir returns dir, or its nearest existing ancestor before Badger
// has created it.
func nearestDir(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			return d
		}
	}
}
