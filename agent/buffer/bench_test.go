package buffer

import (
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// benchValueSize is one encoded batch of ~1,000 samples at ~40 bytes each.
const benchValueSize = 40 << 10

func reportRates(b *testing.B, n int, elapsed time.Duration) {
	s := elapsed.Seconds()
	b.ReportMetric(float64(n)/s, "entries/s")
	b.ReportMetric(float64(n)*benchValueSize/s/1e6, "MB/s")
}

func BenchmarkAppend(b *testing.B) {
	q := openQueue(b, b.TempDir(), testOptions()) // SyncWrites on
	v := payload(1, benchValueSize)
	b.SetBytes(benchValueSize)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := q.Append(v); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, b.N, time.Since(start))
}

// BenchmarkReadDelete pops (reads 100, then acks them) a queue filled
// beforehand.
func BenchmarkReadDelete(b *testing.B) {
	o := testOptions()
	q := openQueue(b, b.TempDir(), o)
	v := payload(1, benchValueSize)
	for range b.N {
		if _, err := q.Append(v); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(benchValueSize)
	b.ResetTimer()
	start := time.Now()
	var next uint64
	for n := 0; n < b.N; {
		es, err := q.Read(next, 100)
		if err != nil {
			b.Fatal(err)
		}
		ack := make([]uint64, len(es))
		for i, e := range es {
			ack[i] = e.Seq
		}
		if err := q.Delete(ack...); err != nil {
			b.Fatal(err)
		}
		next = es[len(es)-1].Seq + 1
		n += len(es)
	}
	reportRates(b, b.N, time.Since(start))
}

// BenchmarkBadgerRawWrite writes the same data with the queue's Badger
// settings, one synced transaction per value and no queue bookkeeping, for
// comparison with BenchmarkAppend.
func BenchmarkBadgerRawWrite(b *testing.B) {
	o := testOptions()
	db, err := badger.Open(badgerOptions(b.TempDir(), o, testLogger()))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	v := payload(1, benchValueSize)
	b.SetBytes(benchValueSize)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if err := db.Update(func(txn *badger.Txn) error {
			return txn.Set(dataKey(uint64(i+1)), v)
		}); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, b.N, time.Since(start))
}
