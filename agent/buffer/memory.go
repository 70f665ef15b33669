package buffer

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/dgraph-io/badger/v4"
)

// memTier holds the batches appended while the disk is below the floor:
// numbered like every other entry, readable and deletable through the
// queue, bounded by Options.MemoryBytes (the oldest go first, reported to
// Options.OnDiskFullDrop). They are not durable: a crash loses them, and
// Close writes them to disk only if there is room by then.
type memTier struct {
	entries []Entry // ascending seq
	bytes   int64
}

// appendMemory stores data in memory under the next sequence number.
// wmu is held.
func (q *Queue) appendMemory(data []byte) (uint64, error) {
	c := cost(int64(len(data)))
	if c > q.opts.MemoryBytes {
		return 0, fmt.Errorf("hold %d bytes in memory for buffer %s (memory_bytes %d): %w", len(data), q.dir, q.opts.MemoryBytes, ErrNoSpace)
	}
	q.mu.Lock()
	seq := q.next
	q.next++
	q.mem.entries = append(q.mem.entries, Entry{Seq: seq, Data: slices.Clone(data)})
	q.mem.bytes += c
	var dropped []Entry
	for q.mem.bytes > q.opts.MemoryBytes {
		e := q.mem.entries[0]
		q.mem.entries[0] = Entry{}
		q.mem.entries = q.mem.entries[1:]
		q.mem.bytes -= cost(int64(len(e.Data)))
		dropped = append(dropped, e)
	}
	q.memDropped += int64(len(dropped))
	close(q.notify)
	q.notify = make(chan struct{})
	q.mu.Unlock()

	for _, e := range dropped {
		if q.opts.OnDiskFullDrop != nil {
			q.opts.OnDiskFullDrop(e.Seq, e.Data)
		}
	}
	if len(dropped) > 0 {
		q.log.Warn("disk full and memory bound reached: dropped the oldest batches held in memory",
			"count", len(dropped), "first_seq", dropped[0].Seq, "last_seq", dropped[len(dropped)-1].Seq,
			"memory_bytes", q.opts.MemoryBytes)
	}
	return seq, nil
}

// offDisk reports whether the next entry must be held in memory, first
// moving what memory holds to disk if the disk has room again. wmu is held.
func (q *Queue) offDisk() (bool, error) {
	if q.space.low() {
		return true, nil
	}
	if err := q.spillBack(); err != nil {
		if isNoSpace(err) {
			q.space.full()
			return true, nil
		}
		return false, err
	}
	return false, nil
}

// spillBack moves the batches held in memory to disk, oldest first, once
// the disk has room again. wmu is held. An error leaves the rest in
// memory.
func (q *Queue) spillBack() error {
	q.mu.Lock()
	held := slices.Clone(q.mem.entries)
	q.mu.Unlock()
	if len(held) == 0 {
		return nil
	}
	moved := 0
	txn := q.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	commit := func(upto int) error {
		if err := txn.Commit(); err != nil {
			return err
		}
		q.spilled(held[moved:upto])
		moved = upto
		return nil
	}
	for i, e := range held {
		err := txn.Set(dataKey(e.Seq), e.Data)
		if errors.Is(err, badger.ErrTxnTooBig) {
			if err = commit(i); err == nil {
				txn = q.db.NewTransaction(true)
				err = txn.Set(dataKey(e.Seq), e.Data)
			}
		}
		if err != nil {
			return fmt.Errorf("move batches held in memory to buffer %s: %w", q.dir, err)
		}
	}
	if err := commit(len(held)); err != nil {
		return fmt.Errorf("move batches held in memory to buffer %s: %w", q.dir, err)
	}
	q.log.Info("batches held in memory while the disk was low are now on disk", "batches", len(held),
		"first_seq", held[0].Seq, "last_seq", held[len(held)-1].Seq)
	return nil
}

// spilled accounts for entries now on disk: they leave the memory tier
// (unless a Delete took them first) and join the disk's bounds.
func (q *Queue) spilled(es []Entry) {
	if len(es) == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, e := range es {
		i, ok := q.memIndex(e.Seq)
		if !ok {
			continue
		}
		q.mem.entries = slices.Delete(q.mem.entries, i, i+1)
		c := cost(int64(len(e.Data)))
		q.mem.bytes -= c
		q.entries++
		q.bytes += c
		if q.head == 0 || e.Seq < q.head {
			q.head = e.Seq
		}
		q.tail = max(q.tail, e.Seq)
	}
}

// memIndex finds seq in the memory tier; q.mu is held.
func (q *Queue) memIndex(seq uint64) (int, bool) {
	es := q.mem.entries
	i := sort.Search(len(es), func(i int) bool { return es[i].Seq >= seq })
	return i, i < len(es) && es[i].Seq == seq
}

// deleteMemory removes the acked entries held in memory and returns the
// sequence numbers left for the disk.
func (q *Queue) deleteMemory(seqs []uint64) []uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.mem.entries) == 0 {
		return seqs
	}
	rest := seqs[:0:0]
	for _, s := range seqs {
		i, ok := q.memIndex(s)
		if !ok {
			rest = append(rest, s)
			continue
		}
		q.mem.bytes -= cost(int64(len(q.mem.entries[i].Data)))
		q.mem.entries = slices.Delete(q.mem.entries, i, i+1)
	}
	return rest
}

// read returns up to limit entries from disk and memory together, in
// sequence order (descending when reverse), starting at from.
func (q *Queue) read(from uint64, limit int, reverse bool) ([]Entry, error) {
	out, err := q.readDisk(from, limit, reverse)
	if err != nil || limit <= 0 {
		return out, err
	}
	q.mu.Lock()
	var held []Entry
	for _, e := range q.mem.entries {
		if (!reverse && e.Seq >= from) || (reverse && e.Seq <= from) {
			held = append(held, Entry{Seq: e.Seq, Data: slices.Clone(e.Data)})
		}
	}
	q.mu.Unlock()
	if len(held) == 0 {
		return out, nil
	}
	out = append(out, held...)
	slices.SortFunc(out, func(a, b Entry) int {
		if reverse {
			a, b = b, a
		}
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	out = slices.CompactFunc(out, func(a, b Entry) bool { return a.Seq == b.Seq })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// closeMemory writes what memory holds to disk if there is room, and
// otherwise logs what is lost. wmu is held.
func (q *Queue) closeMemory() {
	q.mu.Lock()
	n, bytes := len(q.mem.entries), q.mem.bytes
	var first, last uint64
	if n > 0 {
		first, last = q.mem.entries[0].Seq, q.mem.entries[n-1].Seq
	}
	q.mu.Unlock()
	if n == 0 {
		return
	}
	if q.space.room(uint64(bytes)) {
		if err := q.spillBack(); err == nil {
			return
		}
	}
	q.log.Error("closing with batches held in memory that the full disk cannot take: they are lost",
		"batches", n, "bytes", bytes, "first_seq", first, "last_seq", last)
}
