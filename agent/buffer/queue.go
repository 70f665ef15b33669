package buffer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// Key layout. Data keys sort in sequence order; the meta key sorts apart.
const (
	dataPrefix = 'd'
	keyLen     = 1 + 8

	// entryOverhead is what Stats.Bytes charges per entry on top of its
	// value: the key, Badger's 8-byte version and its per-entry header.
	entryOverhead = 32
)

var (
	dataPrefixBytes = []byte{dataPrefix}
	// metaNextKey holds the next sequence number to hand out, written in the
	// same transaction as every Append, so numbering survives a full drain
	// and a restart.
	metaNextKey = []byte("m/next")
)

func dataKey(seq uint64) []byte {
	k := make([]byte, keyLen)
	k[0] = dataPrefix
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

func seqOf(key []byte) uint64 { return binary.BigEndian.Uint64(key[1:]) }

func cost(valueLen int64) int64 { return valueLen + entryOverhead }

// Entry is one queued batch.
type Entry struct {
	Seq  uint64
	Data []byte
}

// Stats describes the queue's content, on disk and held in memory while
// the disk is low. Oldest and Newest are 0 when the queue is empty.
type Stats struct {
	Entries int64
	Bytes   int64 // sum of value lengths plus a fixed per-entry overhead
	Oldest  uint64
	Newest  uint64
	// Memory and MemoryBytes are the part of Entries and Bytes held in
	// memory while the disk is low (see Disk); MemoryDropped counts
	// entries dropped from memory since Open.
	Memory        int64
	MemoryBytes   int64
	MemoryDropped int64
}

// Queue is a durable FIFO of opaque batches. All methods are safe for
// concurrent use.
type Queue struct {
	dir  string
	db   *badger.DB
	opts Options
	log  *slog.Logger

	quarantined *CorruptionError

	// life guards db against Close: operations hold it shared.
	life   sync.RWMutex
	closed bool

	// wmu serialises Append and Delete: sequence numbers become visible in
	// order, and the size accounting sees each key removed once. It also
	// guards recent.
	wmu    sync.Mutex
	recent recentSizes

	// id is the buffer's identity (hex), set by Open.
	id string

	mu    sync.Mutex // guards the fields below
	next  uint64     // next sequence number to hand out
	epoch uint64     // this Open's epoch (see identity.go)
	// lastBefore is the newest number handed out before this epoch began.
	lastBefore uint64
	head       uint64 // oldest stored seq, 0 when empty
	tail       uint64 // newest stored seq, 0 when empty
	entries    int64
	bytes      int64
	notify     chan struct{}
	// deleted counts bytes deleted or dropped since the last Flatten;
	// flattened says whether one ran since Open.
	deleted   int64
	flattened bool

	stopGC context.CancelFunc
	gcDone chan struct{}

	// space keeps data out of Badger while the disk is low; mem and
	// memDropped (guarded by mu) hold what is appended meanwhile. See
	// space.go and memory.go.
	space      *spaceGuard
	mem        memTier
	memDropped int64
}

// Open opens (creating if needed) the queue in dir and starts its
// maintenance goroutine; Close stops it. A directory another open queue holds
// fails with ErrLocked. A directory Badger reports as damaged is moved aside
// and replaced by an empty queue (see Quarantined).
func Open(dir string, opts Options) (*Queue, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("open buffer %s: %w", dir, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("buffer", dir)

	space := &spaceGuard{dir: dir, floor: uint64(opts.MinFreeBytes), log: log}
	if space.low() {
		space.releaseReserve()
	}
	db, cerr, err := openBadger(dir, opts, log)
	if err != nil {
		return nil, err
	}
	if err := space.keepReserve(); err != nil {
		log.Warn("buffer reserve", "err", err)
	}
	q := &Queue{
		dir:         dir,
		db:          db,
		opts:        opts,
		log:         log,
		quarantined: cerr,
		notify:      make(chan struct{}),
		space:       space,
	}
	if err := q.recover(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open buffer %s: %w", dir, err)
	}
	if err := q.loadIdentity(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open buffer %s: %w", dir, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	q.stopGC = cancel
	q.gcDone = make(chan struct{})
	go q.maintain(ctx)
	return q, nil
}

// recover rebuilds the in-memory state: head and tail by seeking, size by a
// keys-only pass over the live entries, the next sequence number from the
// meta key.
func (q *Queue) recover() error {
	return q.db.View(func(txn *badger.Txn) error {
		var next uint64 = 1
		switch item, err := txn.Get(metaNextKey); {
		case err == nil:
			if err := item.Value(func(v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("meta key %q: %d bytes, want 8", metaNextKey, len(v))
				}
				next = binary.BigEndian.Uint64(v)
				return nil
			}); err != nil {
				return err
			}
		case !errors.Is(err, badger.ErrKeyNotFound):
			return fmt.Errorf("read next sequence: %w", err)
		}

		opt := badger.DefaultIteratorOptions
		opt.Prefix = dataPrefixBytes
		opt.PrefetchValues = false
		it := txn.NewIterator(opt)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			seq := seqOf(item.Key())
			if q.head == 0 {
				q.head = seq
			}
			q.tail = seq
			q.entries++
			q.bytes += cost(item.ValueSize())
		}
		q.next = max(next, q.tail+1)
		return nil
	})
}

// Quarantined returns the corruption Open recovered from by moving the
// damaged directory aside, or nil. The queue behind it started empty, with a
// new identity (see ID).
func (q *Queue) Quarantined() *CorruptionError { return q.quarantined }

// Dir returns the queue's directory.
func (q *Queue) Dir() string { return q.dir }

// acquire holds the queue open for one operation.
func (q *Queue) acquire() error {
	q.life.RLock()
	if q.closed {
		q.life.RUnlock()
		return ErrClosed
	}
	return nil
}

func (q *Queue) release() { q.life.RUnlock() }

// Append stores data under the next sequence number and returns it. With
// Options.SyncWrites the entry is on disk when Append returns. If MaxBytes
// would be exceeded, the oldest entries are dropped first, in the same
// commit, and reported to Options.OnDrop. Append keeps no reference to
// data: the caller may reuse it when Append returns.
func (q *Queue) Append(data []byte) (uint64, error) {
	if err := q.acquire(); err != nil {
		return 0, err
	}
	defer q.release()
	c := cost(int64(len(data)))
	if q.opts.MaxBytes > 0 && c > q.opts.MaxBytes {
		return 0, fmt.Errorf("append %d bytes to buffer %s (MaxBytes %d): %w", len(data), q.dir, q.opts.MaxBytes, ErrTooLarge)
	}

	q.wmu.Lock()
	defer q.wmu.Unlock()

	if toMemory, err := q.offDisk(); err != nil {
		return 0, err
	} else if toMemory {
		return q.appendMemory(data)
	}

	q.mu.Lock()
	seq, head, over := q.next, q.head, int64(0)
	if q.opts.MaxBytes > 0 {
		over = q.bytes + c - q.opts.MaxBytes
	}
	q.mu.Unlock()

	txn := q.db.NewTransaction(true)
	defer func() { txn.Discard() }() // dropOldest may replace txn

	var dropped []Entry
	var droppedBytes int64
	newHead := head
	if over > 0 {
		var err error
		txn, dropped, droppedBytes, newHead, err = q.dropOldest(txn, head, over)
		if err != nil {
			return 0, err
		}
	}
	if err := setEntry(txn, seq, data); err != nil {
		return 0, fmt.Errorf("append to buffer %s: %w", q.dir, err)
	}
	if err := txn.Commit(); err != nil {
		if isNoSpace(err) {
			q.space.full()
			return q.appendMemory(data)
		}
		return 0, fmt.Errorf("append to buffer %s: %w", q.dir, err)
	}

	for _, e := range dropped {
		q.recent.forget(e.Seq)
	}
	q.recent.add(seq, int64(len(data)))
	q.appended(seq, c, newHead, dropped, droppedBytes)
	q.reportDropped(dropped, droppedBytes)
	return seq, nil
}

// setEntry stages entry seq and the next sequence number in one
// transaction, so a reopened buffer never reuses a seq it handed out.
func setEntry(txn *badger.Txn, seq uint64, data []byte) error {
	var nb [8]byte
	binary.BigEndian.PutUint64(nb[:], seq+1)
	if err := txn.Set(dataKey(seq), data); err != nil {
		return err
	}
	return txn.Set(metaNextKey, nb[:])
}

// appended updates the in-memory counters once entry seq (of cost c) and
// the drops that made room for it are committed, and wakes readers waiting for
// new entries.
func (q *Queue) appended(seq uint64, c int64, newHead uint64, dropped []Entry, droppedBytes int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.next = seq + 1
	q.tail = seq
	q.entries += 1 - int64(len(dropped))
	q.bytes += c - droppedBytes
	q.deleted += droppedBytes
	if newHead == 0 {
		newHead = seq
	}
	q.head = newHead
	close(q.notify)
	q.notify = make(chan struct{})
}

// reportDropped tells OnDrop about entries dropped to stay under MaxBytes;
// it runs after q.mu is released, so a callback that asks the queue for
// its stats cannot deadlock.
func (q *Queue) reportDropped(dropped []Entry, droppedBytes int64) {
	if q.opts.OnDrop != nil {
		for _, e := range dropped {
			q.opts.OnDrop(e.Seq, e.Data)
		}
	}
	if len(dropped) > 0 {
		q.log.Warn("buffer full: dropped oldest entries",
			"count", len(dropped), "first_seq", dropped[0].Seq, "last_seq", dropped[len(dropped)-1].Seq,
			"bytes", droppedBytes, "max_bytes", q.opts.MaxBytes)
	}
}

// dropOldest deletes entries from head on until at least need bytes are
// freed. It returns the transaction to continue with (a new one if the
// deletions overflowed a transaction and part had to be committed), the
// dropped entries, their cost and the first seq that remains (0 if none).
func (q *Queue) dropOldest(txn *badger.Txn, head uint64, need int64) (*badger.Txn, []Entry, int64, uint64, error) {
	// Read the victims in a separate snapshot: the write transaction's
	// own iterator would also see its pending deletes.
	var victims []Entry
	var freed int64
	var newHead uint64
	err := q.db.View(func(rt *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.Prefix = dataPrefixBytes
		opt.PrefetchValues = q.opts.OnDrop != nil
		opt.PrefetchSize = 16
		it := rt.NewIterator(opt)
		defer it.Close()
		for it.Seek(dataKey(head)); it.Valid(); it.Next() {
			item := it.Item()
			seq := seqOf(item.Key())
			if freed >= need {
				newHead = seq
				return nil
			}
			e := Entry{Seq: seq}
			if q.opts.OnDrop != nil {
				v, err := item.ValueCopy(nil)
				if err != nil {
					return err
				}
				e.Data = v
			}
			victims = append(victims, e)
			freed += cost(item.ValueSize())
		}
		return nil
	})
	if err != nil {
		return txn, nil, 0, 0, fmt.Errorf("read oldest entries of buffer %s: %w", q.dir, err)
	}
	for _, e := range victims {
		k := dataKey(e.Seq)
		err := txn.Delete(k)
		if errors.Is(err, badger.ErrTxnTooBig) {
			// Commit the drops so far; they are reported with the rest
			// once the append commits.
			if err := txn.Commit(); err != nil {
				return txn, nil, 0, 0, fmt.Errorf("drop oldest entries of buffer %s: %w", q.dir, err)
			}
			txn = q.db.NewTransaction(true)
			err = txn.Delete(k)
		}
		if err != nil {
			return txn, nil, 0, 0, fmt.Errorf("drop oldest entries of buffer %s: %w", q.dir, err)
		}
	}
	return txn, victims, freed, newHead, nil
}

// Read returns up to max entries with seq >= from, oldest first. The
// entries' Data are copies the caller may keep.
func (q *Queue) Read(from uint64, max int) ([]Entry, error) {
	return q.read(from, max, false)
}

// ReadNewest returns up to max of the newest entries, newest first, for
// sending live data ahead of a backlog.
func (q *Queue) ReadNewest(max int) ([]Entry, error) {
	return q.read(math.MaxUint64, max, true)
}

func (q *Queue) readDisk(from uint64, limit int, reverse bool) ([]Entry, error) {
	if err := q.acquire(); err != nil {
		return nil, err
	}
	defer q.release()
	if limit <= 0 {
		return nil, nil
	}
	q.mu.Lock()
	head, tail := q.head, q.tail
	q.mu.Unlock()
	if head == 0 {
		return nil, nil
	}
	if reverse {
		from = min(from, tail)
	} else {
		if from > tail {
			return nil, nil
		}
		// Seeking to the head skips the delete markers of acked entries.
		from = max(from, head)
	}

	var out []Entry
	err := q.db.View(func(txn *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.Prefix = dataPrefixBytes
		opt.Reverse = reverse
		// ValueCopy below copies each value once; prefetching would copy
		// it first into the iterator's own buffer.
		opt.PrefetchValues = false
		it := txn.NewIterator(opt)
		defer it.Close()
		for it.Seek(dataKey(from)); it.Valid() && len(out) < limit; it.Next() {
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			out = append(out, Entry{Seq: seqOf(item.Key()), Data: v})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read buffer %s: %w", q.dir, err)
	}
	return out, nil
}

// Stats returns the queue's current size and bounds.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := Stats{Entries: q.entries, Bytes: q.bytes, Oldest: q.head, Newest: q.tail, MemoryDropped: q.memDropped}
	if n := len(q.mem.entries); n > 0 {
		st.Memory, st.MemoryBytes = int64(n), q.mem.bytes
		st.Entries += st.Memory
		st.Bytes += st.MemoryBytes
		if first := q.mem.entries[0].Seq; st.Oldest == 0 || first < st.Oldest {
			st.Oldest = first
		}
		st.Newest = max(st.Newest, q.mem.entries[n-1].Seq)
	}
	return st
}

// Notify returns a channel that is closed by the next Append (and by Close).
// Take the channel before reading, then wait on it if the read came back
// empty:
//
//	ch := q.Notify()
//	if es, _ := q.Read(next, n); len(es) == 0 {
//		select { case <-ch: case <-ctx.Done(): }
//	}
func (q *Queue) Notify() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.notify
}

// Close stops the maintenance goroutine, waits for operations in flight and
// closes Badger, flushing its memtable. It is safe to call more than once.
func (q *Queue) Close() error {
	q.stopGC()
	<-q.gcDone

	q.life.Lock()
	defer q.life.Unlock()
	if q.closed {
		return nil
	}
	q.wmu.Lock()
	q.closeMemory()
	q.wmu.Unlock()
	q.closed = true
	q.mu.Lock()
	close(q.notify)
	q.mu.Unlock()
	if err := q.db.Close(); err != nil {
		return fmt.Errorf("close buffer %s: %w", q.dir, err)
	}
	return nil
}

// Sync flushes every Append so far to disk. With Options.SyncWrites off,
// the caller runs it on a timer: the bound of what a power cut can lose.
func (q *Queue) Sync() error {
	if err := q.acquire(); err != nil {
		return err
	}
	defer q.release()
	return q.db.Sync()
}
