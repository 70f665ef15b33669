package buffer

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Options configures a Queue. Start from DefaultOptions and change what differs.
type Options struct {
	// MaxBytes bounds the queue's content: the sum of value lengths plus a
	// fixed per-entry overhead (see Stats.Bytes). When an Append would pass it,
	// the oldest entries are dropped first. 0 means unbounded.
	//
	// The files on disk are larger than this figure: the write-ahead log of
	// the current memtable, LSM levels that still hold deleted data until
	// compaction and the fixed Badger files. Budget about twice MaxBytes plus
	// 128 MiB of disk.
	MaxBytes int64

	// SyncWrites makes Append durable when it returns (fsync per commit).
	SyncWrites bool

	// GCInterval is how often the queue runs value-log GC and, after large
	// deletions, compacts the LSM tree so that disk space is returned.
	GCInterval time.Duration

	// OnDrop, if set, is called once per entry dropped to respect MaxBytes,
	// oldest first, after the drop is committed, so the caller can record a
	// gap. It runs while Append holds the queue's write lock: it must not call
	// Append or Delete. data is a copy the callee may keep.
	OnDrop func(seq uint64, data []byte)

	// MinFreeBytes is the free space the buffer leaves on its filesystem:
	// below it new entries are held in memory instead of going to Badger,
	// and they move to disk once the free space is back above it (with a
	// margin). 0 turns the floor off, leaving only Badger's own "no space"
	// errors to notice a full disk, which may come too late (see space.go).
	MinFreeBytes int64

	// MemoryBytes bounds the entries held in memory while the disk is low;
	// past it the oldest are dropped and reported to OnDiskFullDrop.
	MemoryBytes int64

	// OnDiskFullDrop, if set, is called once per entry dropped from memory
	// while the disk is low, under the same rules as OnDrop.
	OnDiskFullDrop func(seq uint64, data []byte)

	// Logger receives the queue's and Badger's messages (Badger's at warn
	// level and above). Nil discards them.
	Logger *slog.Logger
}

// DefaultOptions returns the defaults: a 1 GiB bound, synchronous writes, a
// GC pass every minute, a 256 MiB free-space floor and 64 MiB of memory for
// entries while the disk is below it.
func DefaultOptions() Options {
	return Options{
		MaxBytes:     1 << 30,
		SyncWrites:   true,
		GCInterval:   time.Minute,
		MinFreeBytes: 256 << 20,
		MemoryBytes:  64 << 20,
	}
}

// Validate reports the first invalid option. It does not fill in defaults.
func (o Options) Validate() error {
	var errs []error
	if o.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("MaxBytes %d: must be 0 (unbounded) or positive", o.MaxBytes))
	}
	if o.MinFreeBytes < 0 {
		errs = append(errs, fmt.Errorf("MinFreeBytes %d: must be 0 (no floor) or positive", o.MinFreeBytes))
	}
	if o.MemoryBytes <= 0 {
		errs = append(errs, fmt.Errorf("MemoryBytes %d: must be positive", o.MemoryBytes))
	}
	if o.GCInterval <= 0 {
		errs = append(errs, fmt.Errorf("GCInterval %v: must be positive", o.GCInterval))
	}
	return errors.Join(errs...)
}
