package buffer

import (
	"runtime"
	"testing"
)

// Delete frees what each entry cost whether its size is remembered (the
// newest entries), forgotten (older than maxRecentSizes) or unknown (written
// before Open).
func TestDeleteCountsEntriesOfEveryAge(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	var first []uint64
	for i := range 3 {
		first = append(first, mustAppend(t, q, payload(uint64(i), 100+i)))
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = openQueue(t, dir, testOptions())
	var rest []uint64
	for i := range maxRecentSizes + 10 {
		rest = append(rest, mustAppend(t, q, payload(uint64(i), 10)))
	}
	want := int64(3*100+3) + 3*entryOverhead + int64(len(rest))*(10+entryOverhead)
	if got := q.Stats().Bytes; got != want {
		t.Fatalf("Bytes = %d before deleting, want %d", got, want)
	}
	// From before Open, forgotten, and remembered (listed twice).
	del := append(append([]uint64{first[1]}, rest[:5]...), rest[len(rest)-3:]...)
	del = append(del, rest[len(rest)-1])
	if err := q.Delete(del...); err != nil {
		t.Fatal(err)
	}
	want -= 101 + entryOverhead + 8*(10+entryOverhead)
	if st := q.Stats(); st.Bytes != want || st.Entries != int64(3+len(rest)-9) {
		t.Fatalf("Stats = %+v after deleting 9 entries, want Bytes %d", st, want)
	}
	// Deleting them again frees nothing.
	if err := q.Delete(del...); err != nil {
		t.Fatal(err)
	}
	if got := q.Stats().Bytes; got != want {
		t.Fatalf("Bytes = %d after deleting the same entries again, want %d", got, want)
	}
}

// Deleting an entry just appended does not read its value back: Badger's
// Txn.Get copies a value twice, which for every acked batch was much of
// the agent's garbage.
func TestDeleteOfARecentEntryDoesNotCopyIt(t *testing.T) {
	q := openQueue(t, t.TempDir(), testOptions())
	const size = 200 << 10
	var before, after runtime.MemStats
	for i := range 5 {
		seq := mustAppend(t, q, payload(uint64(i), size))
		runtime.ReadMemStats(&before)
		if err := q.Delete(seq); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got < size {
			return // one Delete is enough; Badger's goroutines allocate too
		}
	}
	t.Fatalf("each Delete of a %d-byte entry allocated at least as much: it read the entry back", size)
}
