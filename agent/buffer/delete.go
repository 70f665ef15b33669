package buffer

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Delete removes acknowledged entries, in any order. Sequence numbers that
// are not stored are ignored.
func (q *Queue) Delete(seqs ...uint64) error {
	if err := q.acquire(); err != nil {
		return err
	}
	defer q.release()
	if len(seqs) == 0 {
		return nil
	}

	q.wmu.Lock()
	defer q.wmu.Unlock()

	if seqs = q.deleteMemory(seqs); len(seqs) == 0 {
		return nil
	}
	q.mu.Lock()
	head, tail := q.head, q.tail
	q.mu.Unlock()

	// done counts what is committed, pending what the open transaction
	// holds; taken and takenSizes are the pending entries whose sizes came
	// from q.recent, noted again if they do not commit.
	var done, pending tally
	var taken []uint64
	var takenSizes []int64
	txn := q.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	commit := func() error {
		if err := txn.Commit(); err != nil {
			return err
		}
		done.add(pending)
		pending = tally{}
		taken, takenSizes = taken[:0], takenSizes[:0]
		return nil
	}

	var err error
	for _, seq := range seqs {
		if head == 0 || seq < head || seq > tail {
			continue
		}
		size, fromRecent, found, gerr := q.entrySize(txn, seq)
		if gerr != nil {
			err = gerr
			break
		}
		if !found {
			continue
		}
		if fromRecent {
			taken, takenSizes = append(taken, seq), append(takenSizes, size)
		}
		k := dataKey(seq)
		derr := txn.Delete(k)
		if errors.Is(derr, badger.ErrTxnTooBig) {
			if derr = commit(); derr == nil {
				txn = q.db.NewTransaction(true)
				derr = txn.Delete(k)
			}
		}
		if derr != nil {
			err = derr
			break
		}
		pending.add(tally{n: 1, freed: cost(size), headGone: seq == head, tailGone: seq == tail})
	}
	if err == nil {
		err = commit()
	}
	q.recent.restore(taken, takenSizes)
	// Account for whatever was committed, even if a later part failed.
	if uerr := q.afterDelete(done); uerr != nil && err == nil {
		err = uerr
	}
	if err != nil {
		return fmt.Errorf("delete from buffer %s: %w", q.dir, err)
	}
	return nil
}

// entrySize is the stored size of entry seq: from q.recent when it was
// appended lately (fromRecent), else read back; found is false when the
// entry is gone already (deleted or dropped, or listed twice).
func (q *Queue) entrySize(txn *badger.Txn, seq uint64) (size int64, fromRecent, found bool, err error) {
	if size, ok := q.recent.take(seq); ok {
		return size, true, true, nil
	}
	item, err := txn.Get(dataKey(seq))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, false, false, nil
	}
	if err != nil {
		return 0, false, false, err
	}
	return item.ValueSize(), false, true, nil
}

// tally sums what a Delete removed.
type tally struct {
	n, freed           int64
	headGone, tailGone bool
}

func (t *tally) add(o tally) {
	t.n += o.n
	t.freed += o.freed
	t.headGone = t.headGone || o.headGone
	t.tailGone = t.tailGone || o.tailGone
}

// afterDelete updates the in-memory state after a committed deletion,
// seeking the new head and tail if those went.
func (q *Queue) afterDelete(t tally) error {
	if t.n == 0 {
		return nil
	}
	headGone, tailGone := t.headGone, t.tailGone
	q.mu.Lock()
	q.entries -= t.n
	q.bytes -= t.freed
	q.deleted += t.freed
	empty := q.entries == 0
	head, tail := q.head, q.tail
	q.mu.Unlock()

	newHead, newTail := head, tail
	var err error
	switch {
	case empty:
		newHead, newTail = 0, 0
	case headGone || tailGone:
		err = q.db.View(func(txn *badger.Txn) error {
			if headGone {
				s, err := seek(txn, head, false)
				if err != nil {
					return err
				}
				newHead = s
			}
			if tailGone {
				s, err := seek(txn, tail, true)
				if err != nil {
					return err
				}
				newTail = s
			}
			return nil
		})
	}
	if err != nil {
		return err
	}
	q.mu.Lock()
	q.head, q.tail = newHead, newTail
	q.mu.Unlock()
	return nil
}

// seek returns the first stored seq at or after from (at or before it when
// reverse), or 0.
func seek(txn *badger.Txn, from uint64, reverse bool) (uint64, error) {
	opt := badger.DefaultIteratorOptions
	opt.Prefix = dataPrefixBytes
	opt.PrefetchValues = false
	opt.Reverse = reverse
	it := txn.NewIterator(opt)
	defer it.Close()
	it.Seek(dataKey(from))
	if !it.Valid() {
		return 0, nil
	}
	return seqOf(it.Item().Key()), nil
}
