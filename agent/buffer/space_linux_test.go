package buffer

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/lifeline-telemetry/lifeline/agent/buffer/disktest"
)

func seqsOf(es []Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

// On a filesystem that fills up, the queue keeps appending: under the
// floor entries are held in memory, readable and deletable like the rest,
// bounded by MemoryBytes with the oldest reported dropped; once space is
// back they go to disk, and Badger never wrote into the full disk.
func TestDiskLowHoldsEntriesInMemoryAndResumes(t *testing.T) {
	mnt := disktest.Tmpfs(t, 32<<20)
	dir := filepath.Join(mnt, "buffer")
	var mu sync.Mutex
	var dropped []uint64
	o := testOptions()
	o.MinFreeBytes = 8 << 20
	o.MemoryBytes = 64 << 10
	o.OnDiskFullDrop = func(seq uint64, data []byte) {
		mu.Lock()
		dropped = append(dropped, seq)
		mu.Unlock()
	}
	q := openQueue(t, dir, o)
	entry := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 10<<10) }

	var onDisk, inMemory []uint64
	var reused []byte // as the batcher reuses its encoding buffer
	for i := range 5 {
		reused = append(reused[:0], entry(i)...)
		onDisk = append(onDisk, mustAppend(t, q, reused))
	}
	filler := disktest.Fill(t, mnt, 4<<20)
	for i := 5; i < 15; i++ {
		reused = append(reused[:0], entry(i)...)
		inMemory = append(inMemory, mustAppend(t, q, reused))
	}
	if low, free := q.Disk(); !low || free > 8<<20 {
		t.Fatalf("Disk() = %v, %d with 4 MiB free and an 8 MiB floor", low, free)
	}
	// 64 KiB holds six entries of 10 KiB: the four oldest went.
	mu.Lock()
	gotDropped := slices.Clone(dropped)
	mu.Unlock()
	if !slices.Equal(gotDropped, inMemory[:4]) {
		t.Fatalf("dropped %v, want the oldest held in memory %v", gotDropped, inMemory[:4])
	}
	st := q.Stats()
	if st.Memory != 6 || st.Entries != 11 || st.MemoryDropped != 4 || st.Oldest != onDisk[0] || st.Newest != inMemory[9] {
		t.Fatalf("stats %+v", st)
	}
	es, err := q.Read(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(onDisk), inMemory[4:]...)
	if !slices.Equal(seqsOf(es), want) {
		t.Fatalf("read %v, want %v", seqsOf(es), want)
	}
	if !bytes.Equal(es[0].Data, entry(0)) {
		t.Fatal("an entry on disk reads back different")
	}
	if !bytes.Equal(es[5].Data, entry(9)) {
		t.Fatal("an entry held in memory reads back different: the queue kept the caller's slice?")
	}
	if err := q.Delete(inMemory[5], onDisk[0]); err != nil {
		t.Fatal(err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	last := mustAppend(t, q, entry(15))
	if low, _ := q.Disk(); low {
		t.Fatal("disk still low after the filler was removed")
	}
	if st := q.Stats(); st.Memory != 0 || st.Entries != 10 {
		t.Fatalf("after space came back: stats %+v, want everything on disk", st)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = openQueue(t, dir, o)
	es, err = q.Read(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	want = append(append(slices.Clone(onDisk[1:]), inMemory[4]), inMemory[6:]...)
	want = append(want, last)
	if !slices.Equal(seqsOf(es), want) {
		t.Fatalf("after reopening: %v, want %v (held entries moved to disk when space came back)", seqsOf(es), want)
	}
}

// A buffer on a disk another program filled to the last byte still
// opens: Badger rewrites its LOCK file on Open and cannot on a full disk,
// so the queue gives up the reserve it keeps for this.
func TestOpensOnAFullDisk(t *testing.T) {
	mnt := disktest.Tmpfs(t, 32<<20)
	dir := filepath.Join(mnt, "buffer")
	o := testOptions()
	o.MinFreeBytes = 8 << 20
	q := openQueue(t, dir, o)
	seq := mustAppend(t, q, []byte("before"))
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	disktest.Fill(t, mnt, 0)
	if free, _ := diskFree(mnt); free != 0 {
		t.Fatalf("%d bytes still free", free)
	}
	q, err := Open(dir, o)
	if err != nil {
		t.Fatalf("open on a full disk: %v", err)
	}
	defer q.Close()
	if low, _ := q.Disk(); !low {
		t.Fatal("a full disk is not reported low")
	}
	next := mustAppend(t, q, []byte("after"))
	es, err := q.Read(0, 10)
	if err != nil || !slices.Equal(seqsOf(es), []uint64{seq, next}) {
		t.Fatalf("read %v %v", seqsOf(es), err)
	}
}
