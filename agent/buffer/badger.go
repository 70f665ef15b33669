package buffer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Badger settings for an industrial PC: little RAM, a small SSD or eMMC.
const (
	// valueThreshold keeps every batch up to 256 KiB (a default batch of
	// 2,000 samples is ~110 KB) inside the LSM tree rather than in the value
	// log.
	//
	// Why the LSM tree: Badger writes a deleted value-log entry off only when
	// compaction drops its pointer, and compaction needs the memtable flushed
	// first. With values in the value log a memtable holds only ~100-byte
	// pointers, so it would flush once per tens of thousands of batches
	// (gigabytes of data): the value log would never shrink in practice.
	// In the LSM tree the memtable fills every ~20 batches, a batch acked
	// soon after it was written dies in its first L0 compaction, each commit
	// needs one fsync (the WAL) instead of two (value log and WAL), and
	// reclaiming a drained backlog is a Flatten that our maintenance loop runs
	// (see gc.go). The cost: after a long outage the backlog is rewritten as
	// it moves down the levels, and Open reads it once to recount sizes.
	// Larger batches go to the value log, which the same loop cleans with
	// RunValueLogGC.
	valueThreshold = 256 << 10

	// memTableSize bounds a memtable and its write-ahead log, and is what
	// sets the agent's memory. Badger refuses transactions larger than 15 %
	// of it (307 KiB here), which must stay above valueThreshold.
	//
	// Each flush builds its L0 table in a z.Allocator taken from a pool that
	// Badger keeps (up to 8 allocators, released only after 2 s without
	// use, which a busy agent never has). An allocator grows by doubling to
	// hold a whole table and keeps its buffers when returned, so the pool
	// ends up holding ~8 × (memtable rounded up to a power of two, twice):
	// live heap that the garbage collector cannot free. Measured at 100,000
	// samples/s (make bench, agent section): 32 MiB × 3 memtables → RSS
	// ~650 MB; 16 MiB × 2 → ~435 MB; 4 MiB → ~215 MB; 2 MiB → ~120 MB. At
	// 2 MiB the L0 table fits the builder's first buffer (2 × BaseTableSize,
	// 4 MiB), so no allocator ever grows. More frequent flushes cost ~15 %
	// more CPU (0.31 → 0.36 cores at 100,000 samples/s).
	memTableSize = 2 << 20
	numMemtables = 2

	// valueLogFileSize only matters for batches above valueThreshold; value
	// log GC works a whole file at a time, so keep files small.
	valueLogFileSize = 64 << 20

	// tableSizeMultiplier 1 keeps every level's tables at BaseTableSize
	// (2 MiB) instead of doubling them level by level. Compaction builds up
	// to 8 + splits tables at once, each in a pooled allocator that grows to
	// twice its table. Measured with the aggregator unreachable and 150,000
	// samples/s going into a growing backlog: Badger's default of 2 held
	// ~500 MB of heap in compaction once the backlog reached L3 (resident
	// set 1.3 GB); 1 holds ~130 MB (anonymous resident set ~270 MB).
	// Tables are memory-mapped, so a backlog also adds its size in file
	// pages to the resident set: page cache the kernel can reclaim.
	tableSizeMultiplier = 1

	// compression is off for the queue's tables. Badger's table builder
	// closes a table when its *compressed* size reaches BaseTableSize, so
	// with Snappy on a batch format that shrinks ~4× a 2 MiB table holds
	// ~8 MiB of blocks, and the builder's pooled allocator doubles past its
	// first 4 MiB buffer to 16 or 32 MiB and keeps that: measured in a
	// profile of the agent at ~40,000 samples/s (make bench, agent
	// section), 112 MiB of the 165 MiB heap were compaction allocators of
	// 8, 16 and 32 MiB, and the anonymous resident set was ~200 MB.
	// Uncompressed, a table is its blocks, the allocator never grows, and
	// blocks are read straight from the memory-mapped file, so no block
	// cache is needed (Badger requires one only for compressed or
	// encrypted tables; tables an older agent wrote with Snappy keep their
	// compression in the manifest and are still read, uncached). The cost
	// is disk: tables are as large as the values they hold, which the disk
	// budget (twice MaxBytes, see Options) already assumed, since MaxBytes
	// counts values uncompressed.
	compression = options.None

	// blockSize is a table block. Badger starts each block with an
	// allocation of blockSize from the table builder's pooled allocator
	// and doubles it while an entry does not fit, then again to append the
	// block's index and checksum. Badger's 4 KiB blocks against ~110 KB
	// batches meant ~330 KB taken for each batch, so building a 2 MiB
	// table grew its allocator from 4 to 8 and 16 MiB, which the pool keeps.
	// 512 KiB blocks hold four default batches (or one of up to
	// valueThreshold) with room for the index, and a table's blocks fit the
	// builder's first 4 MiB buffer. Blocks are read from the mapped file,
	// so their size costs no memory when reading.
	blockSize = 512 << 10

	// numCompactors is Badger's minimum: compactor 0 keeps L0 moving (a full
	// L0 stalls writes), the other the lower levels. Each running compactor
	// builds tables in pooled allocators (see tableSizeMultiplier), so more
	// would cost memory on a machine that has no spare cores for them.
	numCompactors = 2

	// numLevelZeroTables is how many L0 tables start a compaction (Badger's
	// default is 5). Tables are memory-mapped and written through the
	// mapping, so every table's pages are in the resident set until a
	// compaction deletes it: at 100,000 samples/s a 2 MiB memtable flushes
	// about every half second, and the agent's mapped tables were 6-10 MB
	// of its resident set (up to 27 MB, 14 tables, when compaction fell
	// behind on a busy machine). Acked batches die in that compaction, so
	// compacting two tables at a time merges about the same data as
	// compacting five. Measured with make bench (agent section, same
	// session, soft memory limit 64 and 72 MiB): agent RSS (max) 86.7 and
	// 93.4 MB against 91.7-93.9 and 92.7-100 MB with 5, at no CPU cost
	// the noise of a shared machine let us see.
	numLevelZeroTables = 2
)

// BadgerOptions returns the Badger options a Queue opens dir with, for
// tools that compare the queue with Badger itself on equal terms.
func BadgerOptions(dir string, sync bool) badger.Options {
	return badgerOptions(dir, Options{SyncWrites: sync}, slog.New(slog.DiscardHandler))
}

func badgerOptions(dir string, o Options, log *slog.Logger) badger.Options {
	opts := badger.DefaultOptions(dir).
		WithLogger(badgerLogger{log}).
		WithLoggingLevel(badger.WARNING).
		WithSyncWrites(o.SyncWrites).
		WithNumVersionsToKeep(1).
		WithValueThreshold(valueThreshold).
		WithMemTableSize(memTableSize).
		WithNumMemtables(numMemtables).
		WithValueLogFileSize(valueLogFileSize).
		WithCompression(compression).
		WithBlockSize(blockSize).
		WithBlockCacheSize(0).
		WithNumCompactors(numCompactors).
		WithNumLevelZeroTables(numLevelZeroTables).
		// Append and Delete are serialised by the queue, so Badger need not
		// track read sets for conflicts.
		WithDetectConflicts(false).
		// Badger's metrics are process-wide expvar globals; the caller reads
		// Stats instead.
		WithMetricsEnabled(false)
	opts.TableSizeMultiplier = tableSizeMultiplier
	return opts
}

// badgerLogger passes Badger's log lines to slog. Badger filters by its own
// level (WARNING) before calling; Info and Debug map to Debug in case that
// level is ever lowered.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) { b.log(slog.LevelError, f, a) }
func (b badgerLogger) Warningf(f string, a ...any) {
	b.log(slog.LevelWarn, f, a)
}
func (b badgerLogger) Infof(f string, a ...any)  { b.log(slog.LevelDebug, f, a) }
func (b badgerLogger) Debugf(f string, a ...any) { b.log(slog.LevelDebug, f, a) }

func (b badgerLogger) log(level slog.Level, f string, a []any) {
	msg := strings.TrimSpace(fmt.Sprintf(f, a...))
	b.l.Log(context.Background(), level, msg, "component", "badger")
}

// openBadger opens the Badger database in dir. If Badger reports damaged
// files, the directory is moved aside and a fresh database is opened; the
// returned *CorruptionError says so.
func openBadger(dir string, o Options, log *slog.Logger) (*badger.DB, *CorruptionError, error) {
	db, err := tryOpen(dir, o, log)
	if err == nil {
		return db, nil, nil
	}
	if isLocked(err) {
		return nil, nil, fmt.Errorf("open buffer %s: %w: %v", dir, ErrLocked, err)
	}
	if !isCorruption(err) {
		return nil, nil, fmt.Errorf("open buffer %s: %w", dir, err)
	}

	// The fresh queue gets a new identity (the old one lived in the damaged
	// files), so its numbers can never be taken for the old queue's. The
	// caller learns of it through the CorruptionError.
	cerr := &CorruptionError{Dir: dir, Err: err}
	to := fmt.Sprintf("%s.corrupt-%s", dir, time.Now().UTC().Format("20060102T150405.000000000Z"))
	if rerr := os.Rename(dir, to); rerr != nil {
		log.Error("buffer is corrupt and cannot be moved aside", "dir", dir, "err", err, "rename_err", rerr)
		return nil, nil, fmt.Errorf("open buffer %s: %w (moving it aside: %v)", dir, cerr, rerr)
	}
	cerr.QuarantinedTo = to
	log.Error("BUFFER CORRUPT: damaged queue moved aside, starting an empty queue; its unsent data is lost unless recovered by hand",
		"dir", dir, "moved_to", to, "err", err)

	db, err = tryOpen(dir, o, log)
	if err != nil {
		return nil, nil, fmt.Errorf("open buffer %s after moving corrupt files to %s: %w", dir, to, err)
	}
	return db, cerr, nil
}

// errOpenPanic marks a panic inside badger.Open, which Badger raises for
// some damaged files (for example an unreadable table index).
var errOpenPanic = errors.New("badger panicked while opening")

func tryOpen(dir string, o Options, log *slog.Logger) (db *badger.DB, err error) {
	if err := checkTables(dir, log); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("%w: %v", errOpenPanic, r)
		}
	}()
	return badger.Open(badgerOptions(dir, o, log))
}

func isLocked(err error) bool {
	return strings.Contains(err.Error(), "Cannot acquire directory lock")
}

// Badger formats the errors it wraps with %+v instead of %w, so errors.Is
// cannot see y.ErrChecksumMismatch and friends: recognise the text.
var (
	// Faults of the environment, never a reason to throw data away.
	notCorruption = []string{
		"Cannot acquire directory lock",
		"permission denied",
		"no space left",
		"read-only file system",
		"too many open files",
		"cannot allocate memory",
		"unsupported version",           // written by a newer Badger
		"external magic number doesn't", // written by another application
	}
	corruption = []string{
		"checksum mismatch",
		"manifest has bad magic",
		"MANIFEST invalid",
		"MANIFEST file has invalid",
		"MANIFEST removes non-existing table",
		"file does not exist for table",
		"Opening table:",
		"failed to read index",
		"Data corrupted",
		"invalid checksum length",
		"While opening memtable",
		"while iterating wal",
		"During db.vlog.open",
		"might be corrupted",
		"Error while reading sanity text",
		"Error while reading IV for key registry",
		"Encryption key mismatch", // the queue never encrypts: a damaged KEYREGISTRY
		"unexpected EOF",
	}
)

func isCorruption(err error) bool {
	if errors.Is(err, errOpenPanic) || errors.Is(err, errDamagedTable) {
		return true
	}
	msg := err.Error()
	for _, s := range notCorruption {
		if strings.Contains(msg, s) {
			return false
		}
	}
	for _, s := range corruption {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
