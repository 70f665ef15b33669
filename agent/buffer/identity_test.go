package buffer

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/dgraph-io/badger/v4"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func reopen(t *testing.T, q *Queue, dir string) *Queue {
	t.Helper()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	return openQueue(t, dir, testOptions())
}

func TestIdentityKeptAcrossOpens(t *testing.T) {
	dir := t.TempDir()
	q := openQueue(t, dir, testOptions())
	id := q.ID()
	if !hexID.MatchString(id) {
		t.Fatalf("ID() = %q, want 32 hex digits", id)
	}
	if q.Epoch() != 1 || q.Last() != 0 {
		t.Fatalf("fresh queue: epoch %d, last %d; want 1, 0", q.Epoch(), q.Last())
	}
	first := mustAppend(t, q, []byte("a"))
	q = reopen(t, q, dir)
	if q.ID() != id {
		t.Fatalf("ID after reopen = %s, want %s", q.ID(), id)
	}
	if q.Epoch() != 2 || q.Last() != first {
		t.Fatalf("after reopen: epoch %d, last %d; want 2, %d", q.Epoch(), q.Last(), first)
	}
	if seq := mustAppend(t, q, []byte("b")); EpochOf(seq) != 2 || seq <= first {
		t.Fatalf("seq after reopen = %#x (epoch %d), want epoch 2", seq, EpochOf(seq))
	}
}

func TestWipedBufferGetsNewIdentity(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "buf")
	q, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	id := q.ID()
	mustAppend(t, q, []byte("a"))
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	q = openQueue(t, dir, testOptions())
	if q.ID() == id || !hexID.MatchString(q.ID()) {
		t.Fatalf("wiped buffer kept identity %s (now %s)", id, q.ID())
	}
}

// A power cut in interval-sync mode loses appends that were never synced:
// the copy of the directory taken after Sync is what survives. Numbers the
// lost appends used must never be handed out again.
func TestNoSeqReuseAfterPowerCut(t *testing.T) {
	o := testOptions()
	o.SyncWrites = false
	dir := filepath.Join(t.TempDir(), "buf")
	q, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		mustAppend(t, q, []byte("synced"))
	}
	if err := q.Sync(); err != nil {
		t.Fatal(err)
	}
	survived := filepath.Join(t.TempDir(), "survived")
	copyDir(t, dir, survived)
	var lost uint64
	for range 5 {
		lost = mustAppend(t, q, []byte("lost"))
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	q = openQueue(t, survived, o)
	if seq := mustAppend(t, q, []byte("after")); seq <= lost {
		t.Fatalf("after the power cut: seq %#x, but %#x was already handed out", seq, lost)
	}
}

// A buffer written before identities existed gets one on upgrade; its
// stored entries keep their small numbers and every new one is above them.
func TestLegacyBufferUpgrade(t *testing.T) {
	dir := t.TempDir()
	db, err := badger.Open(badgerOptions(dir, testOptions(), testLogger()))
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(txn *badger.Txn) error {
		for seq := uint64(5); seq <= 7; seq++ {
			if err := txn.Set(dataKey(seq), payload(seq, 10)); err != nil {
				return err
			}
		}
		var nb [8]byte
		binary.BigEndian.PutUint64(nb[:], 8)
		return txn.Set(metaNextKey, nb[:])
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	q := openQueue(t, dir, testOptions())
	if !hexID.MatchString(q.ID()) {
		t.Fatalf("ID() = %q", q.ID())
	}
	wantStats(t, q, 3, 5, 7)
	if q.Last() != 7 {
		t.Fatalf("Last() = %d, want 7", q.Last())
	}
	if seq := mustAppend(t, q, []byte("new")); seq != LegacySeqLimit|1 {
		t.Fatalf("first new seq = %#x, want %#x", seq, LegacySeqLimit|1)
	}
}

func TestSkipPast(t *testing.T) {
	dir := t.TempDir()
	q := openQueue(t, dir, testOptions())
	mustAppend(t, q, []byte("a"))
	far := uint64(7)<<EpochShift | 42
	if err := q.SkipPast(far); err != nil {
		t.Fatal(err)
	}
	if seq := mustAppend(t, q, []byte("b")); seq != 8<<EpochShift|1 {
		t.Fatalf("seq after SkipPast = %#x, want %#x", seq, uint64(8<<EpochShift|1))
	}
	// The skip is durable: the next Open starts above it.
	q = reopen(t, q, dir)
	if q.Epoch() != 9 {
		t.Fatalf("epoch after reopen = %d, want 9", q.Epoch())
	}
	// Skipping to a number already passed changes nothing.
	if err := q.SkipPast(5); err != nil || q.Epoch() != 9 {
		t.Fatalf("SkipPast(5): %v, epoch %d", err, q.Epoch())
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	des, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if de.Name() == "LOCK" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, de.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The aggregator keys its ledger by the same split of the sequence space.
func TestSeqSpaceMatchesProtocol(t *testing.T) {
	if LegacySeqLimit != lifelinev1.LegacySeqLimit {
		t.Fatalf("buffer numbers new batches from %#x, the protocol from %#x", LegacySeqLimit, lifelinev1.LegacySeqLimit)
	}
}
