package buffer

import (
	"bytes"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// A buffer whose tables an earlier agent wrote with Snappy compression (and
// 4 KiB blocks) opens and reads back whole with today's options, which
// write uncompressed tables and keep no block cache.
func TestReadsSnappyTablesOfEarlierAgent(t *testing.T) {
	dir := t.TempDir()
	const n = 40
	q, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := q.Append(payload(uint64(i), 100_000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	// Rewrite every key as the earlier options did: the memtable is flushed
	// on close into Snappy tables.
	old := BadgerOptions(dir, true).WithCompression(options.Snappy).WithBlockSize(4 << 10).WithBlockCacheSize(16 << 20)
	db, err := badger.Open(old)
	if err != nil {
		t.Fatal(err)
	}
	var keys, vals [][]byte
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			keys, vals = append(keys, it.Item().KeyCopy(nil)), append(vals, v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range keys {
		if err := db.Update(func(txn *badger.Txn) error { return txn.Set(keys[i], vals[i]) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = badger.Open(old)
	if err != nil {
		t.Fatal(err)
	}
	snappy := 0
	for _, tbl := range db.Tables() {
		if tbl.Level == 0 {
			snappy++
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if snappy == 0 {
		t.Fatal("no table was written with the earlier options")
	}

	q = openQueue(t, dir, testOptions())
	got, err := q.Read(0, n+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("read %d entries, want %d", len(got), n)
	}
	for i, e := range got {
		if !bytes.Equal(e.Data, payload(uint64(i), 100_000)) {
			t.Fatalf("entry %d (seq %d) differs", i, e.Seq)
		}
	}
}
