package uplink

import (
	"testing"

	"github.com/lifeline-telemetry/lifeline/agent/buffer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

type lifelineRange = lifelinev1.SeqRange

// lifelineSeq returns the absolute number of batch n of a fresh buffer's
// first epoch.
func lifelineSeq(n uint64) uint64 { return lifelinev1.LegacySeqLimit + n }

// After a power cut the buffer lost batches the aggregator had committed:
// its Welcome names a newest batch beyond the buffer's. The batches it
// lists are deleted as usual, the rest are sent, and the identity stays.
func TestWelcomeAfterPowerCut(t *testing.T) {
	dir := t.TempDir()
	q, err := buffer.Open(dir, buffer.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	fill(t, q, 4) // epoch 1: 1..4 (the fake acks in pairs)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q, err = buffer.Open(dir, buffer.DefaultOptions()) // epoch 2
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	id := q.ID()
	f := &fakeAggregator{seen: map[uint64]int{}, backfill: map[uint64]bool{},
		committed:       []*lifelineRange{{First: 1, Last: 2}},
		newestCommitted: lifelineSeq(10), // 4..10 were lost in the cut
		onlyBuffer:      id}
	u, stop := runUplink(t, q, serve(t, f))
	waitEmpty(t, q)
	stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen[1] != 0 || f.seen[2] != 0 || f.seen[3] != 1 || f.seen[4] != 1 {
		t.Fatalf("sent %v, want 3 and 4 once", f.seen)
	}
	if q.ID() != id || u.Stats().BehindLedger == 0 {
		t.Fatalf("identity %s (was %s), behind %d", q.ID(), id, u.Stats().BehindLedger)
	}
}

// A restored copy of the buffer numbered new batches as the original had
// already done: the aggregator lists them as committed, but they are other
// data. None is deleted; the buffer takes a new identity and sends them
// all under it.
func TestWelcomeForRestoredCopy(t *testing.T) {
	q := openQueue(t)
	fill(t, q, 4) // epoch 1: 1..4, which the original also used
	id := q.ID()
	f := &fakeAggregator{seen: map[uint64]int{}, backfill: map[uint64]bool{},
		committed:       []*lifelineRange{{First: 1, Last: 4}},
		newestCommitted: lifelineSeq(10),
		onlyBuffer:      id}
	u, stop := runUplink(t, q, serve(t, f))
	waitEmpty(t, q)
	stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	for seq := uint64(1); seq <= 4; seq++ {
		if f.seen[seq] != 1 {
			t.Errorf("batch %d sent %d times, want 1", seq, f.seen[seq])
		}
	}
	if q.ID() == id || u.Stats().BehindLedger == 0 {
		t.Fatalf("identity %s (was %s), behind %d", q.ID(), id, u.Stats().BehindLedger)
	}
	if last := f.hellos[len(f.hellos)-1]; last.GetBufferId() != q.ID() {
		t.Fatalf("last hello named %s, want %s", last.GetBufferId(), q.ID())
	}
	// New numbers are past what the aggregator holds.
	fill(t, q, 1)
	if q.Last() <= lifelineSeq(10) || buffer.EpochOf(q.Last()) < 2 {
		t.Fatalf("next number %#x not past %#x", q.Last(), lifelineSeq(10))
	}
}
