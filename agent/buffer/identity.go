package buffer

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Sequence numbers are epoch<<EpochShift | counter. The epoch grows at every
// Open and is on disk (synced) before the first Append of that Open, so a
// power cut that loses unsynced appends (and the unsynced next-sequence
// counter with them) can never make the queue hand out a number again:
// the next Open starts a higher epoch. Buffers written before identities
// existed numbered from 1, far below 1<<EpochShift, so their numbers stay
// below every new one.
const (
	EpochShift = 40
	// LegacySeqLimit bounds the numbers a buffer made before identities
	// existed can hold; every number a queue hands out now is at least this.
	LegacySeqLimit uint64 = 1 << EpochShift
	maxEpoch              = 1<<(64-EpochShift) - 1
)

var (
	metaIDKey    = []byte("m/id")
	metaEpochKey = []byte("m/epoch")
)

// EpochOf returns the epoch a sequence number was handed out in (0 for a
// number from a buffer made before identities existed).
func EpochOf(seq uint64) uint64 { return seq >> EpochShift }

// ID returns the buffer's identity: 32 hex digits, made at random when the
// buffer was created and kept with it. A wiped or quarantined buffer has a
// new one, so sequence numbers are unique per (ID, seq) for good.
func (q *Queue) ID() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.id
}

// Epoch returns the epoch of this Open.
func (q *Queue) Epoch() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.epoch
}

// Last returns the newest sequence number handed out, stored or not; 0 if
// none yet.
func (q *Queue) Last() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.lastLocked()
}

func (q *Queue) lastLocked() uint64 {
	if q.epoch != 0 && q.next == q.epoch<<EpochShift|1 {
		return q.lastBefore // nothing appended in this epoch yet
	}
	return q.next - 1
}

// loadIdentity reads the identity (making one if the buffer has none),
// starts the next epoch, syncs both to disk and moves q.next into it. It
// runs in Open after recover, before any Append.
func (q *Queue) loadIdentity() error {
	var id []byte
	var epoch uint64
	err := q.db.View(func(txn *badger.Txn) error {
		if v, err := getMeta(txn, metaIDKey); err != nil {
			return err
		} else if v != nil {
			if len(v) != 16 {
				return fmt.Errorf("meta key %q: %d bytes, want 16", metaIDKey, len(v))
			}
			id = v
		}
		v, err := getMeta(txn, metaEpochKey)
		if err != nil {
			return err
		}
		if v != nil {
			if len(v) != 8 {
				return fmt.Errorf("meta key %q: %d bytes, want 8", metaEpochKey, len(v))
			}
			epoch = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read identity: %w", err)
	}
	created := id == nil
	if created {
		id = make([]byte, 16)
		if _, err := rand.Read(id); err != nil {
			return fmt.Errorf("make identity: %w", err)
		}
	}
	// Never start below what the queue already handed out (an epoch lost
	// with the meta key would otherwise repeat numbers still stored).
	epoch = max(epoch, EpochOf(q.next-1)) + 1
	if err := q.startEpoch(id, epoch); err != nil {
		return err
	}
	q.mu.Lock()
	q.id = hex.EncodeToString(id)
	q.mu.Unlock()
	if created {
		q.log.Info("buffer identity created", "buffer_id", q.id, "legacy_entries", q.entries)
	}
	return nil
}

// startEpoch persists id and epoch, syncs them, and moves q.next to the
// epoch's first number.
func (q *Queue) startEpoch(id []byte, epoch uint64) error {
	if epoch > maxEpoch {
		return fmt.Errorf("epoch %d: more than %d opens", epoch, maxEpoch)
	}
	var eb [8]byte
	binary.BigEndian.PutUint64(eb[:], epoch)
	err := q.db.Update(func(txn *badger.Txn) error {
		if id != nil {
			if err := txn.Set(metaIDKey, id); err != nil {
				return err
			}
		}
		return txn.Set(metaEpochKey, eb[:])
	})
	if err == nil {
		// Without SyncWrites the commit sits in the write-ahead log's
		// page cache: sync it before any number of this epoch is used.
		err = q.db.Sync()
	}
	if err != nil {
		return fmt.Errorf("start epoch %d: %w", epoch, err)
	}
	q.mu.Lock()
	q.lastBefore = q.lastLocked()
	q.epoch = epoch
	q.next = max(q.next, epoch<<EpochShift|1)
	q.mu.Unlock()
	return nil
}

// SkipPast makes every later Append use a number above seq, by starting a
// new epoch past seq's. The agent calls it when the aggregator holds
// numbers of this buffer that the buffer never handed out in its current
// life (a restored copy of the directory): new batches must not collide
// with them.
func (q *Queue) SkipPast(seq uint64) error {
	if err := q.acquire(); err != nil {
		return err
	}
	defer q.release()
	q.wmu.Lock()
	defer q.wmu.Unlock()
	q.mu.Lock()
	cur := q.next
	q.mu.Unlock()
	if cur > seq {
		return nil
	}
	return q.startEpoch(nil, EpochOf(seq)+1)
}

func getMeta(txn *badger.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

// Reidentify gives the buffer a new identity, kept from now on, and
// returns it. The agent calls it when the aggregator's ledger shows another
// copy of this buffer used the numbers of its current epoch: the batches
// held under those numbers can then travel under the new identity without
// being taken for the copy's.
func (q *Queue) Reidentify() (string, error) {
	if err := q.acquire(); err != nil {
		return "", err
	}
	defer q.release()
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", fmt.Errorf("make identity: %w", err)
	}
	err := q.db.Update(func(txn *badger.Txn) error { return txn.Set(metaIDKey, id) })
	if err == nil {
		err = q.db.Sync()
	}
	if err != nil {
		return "", fmt.Errorf("reidentify buffer %s: %w", q.dir, err)
	}
	q.mu.Lock()
	q.id = hex.EncodeToString(id)
	q.mu.Unlock()
	return q.ID(), nil
}
