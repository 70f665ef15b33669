package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"time"

	"github.com/dgraph-io/badger/v4"

	agentbuffer "github.com/lifeline-telemetry/lifeline/agent/buffer"
)

// buffer measures the agent's Badger queue as the agent uses it (append
// with fsync; read 16 entries, delete each on its ack) beside Badger
// itself doing the same writes and reads without the queue.
func (r *Runner) buffer(ctx context.Context, sec *Section) error {
	const size = 2000 // samples per entry: the agent's batch_samples
	n := 400
	if r.opts.Short {
		n = 100
	}
	batches, err := encodedBatches(n, size, 1000, time.Now().Add(-time.Hour), 100*time.Millisecond)
	if err != nil {
		return err
	}
	perEntry := float64(len(batches[0]))

	q, err := agentbuffer.Open(filepath.Join(r.dir, "buffer-bench"), agentbuffer.DefaultOptions())
	if err != nil {
		return err
	}
	start := time.Now()
	for _, b := range batches {
		if _, err := q.Append(b); err != nil {
			q.Close()
			return err
		}
	}
	enqueue := float64(n*size) / time.Since(start).Seconds()
	start = time.Now()
	var next uint64
	for read := 0; read < n; {
		es, err := q.Read(next, 16)
		if err != nil || len(es) == 0 {
			q.Close()
			return fmt.Errorf("read after %d of %d entries: %v", read, n, err)
		}
		for _, e := range es {
			if err := q.Delete(e.Seq); err != nil {
				q.Close()
				return err
			}
			next = e.Seq + 1
		}
		read += len(es)
	}
	dequeue := float64(n*size) / time.Since(start).Seconds()
	if err := q.Close(); err != nil {
		return err
	}

	rawWrite, rawRead, err := rawBadger(filepath.Join(r.dir, "badger-bench"), batches)
	if err != nil {
		return err
	}
	rawWrite *= size
	rawRead *= size
	sec.add(Row{Measure: "enqueue (Append, fsync each)", Value: enqueue, Unit: "samples/s",
		Versus: fmt.Sprintf("raw Badger synced writes %s samples/s", human(rawWrite)), Ratio: enqueue / rawWrite})
	sec.add(Row{Measure: "dequeue + delete (Read 16, Delete each on its ack)", Value: dequeue, Unit: "samples/s",
		Versus: fmt.Sprintf("raw Badger read %s samples/s", human(rawRead)), Ratio: dequeue / rawRead})
	sec.add(Row{Measure: "raw Badger: one synced transaction per entry", Value: rawWrite, Unit: "samples/s"})
	sec.add(Row{Measure: "raw Badger: iterate and copy every entry", Value: rawRead, Unit: "samples/s"})
	sec.note("%d entries of %d samples (%s bytes each, encoded by the agent's batcher format) in the run's temporary directory; the queue with its default options (fsync per append, 1 GiB bound).", n, size, human(perEntry))
	sec.note("Raw Badger: the same values under the same keys with the queue's own Badger options (values in the LSM tree, 2 MiB memtables, uncompressed tables in 512 KiB blocks, sync writes), no bookkeeping; reads iterate in key order and copy each value.")
	return nil
}

// rawBadger writes values one synced transaction each, then iterates them,
// returning entries per second for both.
func rawBadger(dir string, values [][]byte) (write, read float64, err error) {
	db, err := badger.Open(agentbuffer.BadgerOptions(dir, true))
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	key := func(i int) []byte {
		k := make([]byte, 9)
		k[0] = 'd'
		binary.BigEndian.PutUint64(k[1:], uint64(i+1))
		return k
	}
	start := time.Now()
	for i, v := range values {
		if err := db.Update(func(txn *badger.Txn) error { return txn.Set(key(i), v) }); err != nil {
			return 0, 0, err
		}
	}
	write = float64(len(values)) / time.Since(start).Seconds()
	read, err = rawBadgerRead(db, len(values))
	return write, read, err
}

// rawBadgerRead iterates the 'd' keys of db, copying every value, and
// returns entries per second; want is how many it must find.
func rawBadgerRead(db *badger.DB, want int) (float64, error) {
	start := time.Now()
	n := 0
	err := db.View(func(txn *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.Prefix = []byte{'d'}
		it := txn.NewIterator(opt)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if _, err := it.Item().ValueCopy(nil); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if n != want {
		return 0, fmt.Errorf("raw badger read %d entries, want %d", n, want)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
