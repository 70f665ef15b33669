package buffer

// maxRecentSizes bounds recentSizes: a live link acks an entry a few
// entries after it was written, and 4,096 default batches are minutes of a
// large plant.
const maxRecentSizes = 4096

// recentSizes remembers the value length of the newest entries written to
// Badger, so that Delete, which must know what it frees, need not read an
// entry back: Badger's Txn.Get copies the value, twice, ~220 KB for a
// default batch, and deleting every acked batch that way was a tenth of the
// agent's garbage at 100,000 samples/s. An entry it does not know (older
// than the newest maxRecentSizes, or written before Open) is read as before.
// wmu guards it: only Append and Delete use it.
type recentSizes struct {
	size  map[uint64]int64
	order []uint64 // ring of the seqs added, oldest at next
	next  int
}

// add notes entry seq of value length n, forgetting the oldest noted when
// full.
func (r *recentSizes) add(seq uint64, n int64) {
	if r.size == nil {
		r.size = make(map[uint64]int64)
	}
	if len(r.order) < maxRecentSizes {
		r.order = append(r.order, seq)
	} else {
		delete(r.size, r.order[r.next])
		r.order[r.next] = seq
		r.next = (r.next + 1) % maxRecentSizes
	}
	r.size[seq] = n
}

// take returns the value length of entry seq and forgets it; ok is false
// when it is not known.
func (r *recentSizes) take(seq uint64) (n int64, ok bool) {
	n, ok = r.size[seq]
	if ok {
		delete(r.size, seq)
	}
	return n, ok
}

// forget drops entry seq, deleted or dropped.
func (r *recentSizes) forget(seq uint64) { delete(r.size, seq) }

// restore notes again entries taken for a deletion that did not commit.
// Their place in the ring is kept by the seq they had, so a restored entry
// may be forgotten early, which only costs a read.
func (r *recentSizes) restore(seqs []uint64, sizes []int64) {
	for i, seq := range seqs {
		r.size[seq] = sizes[i]
	}
}
