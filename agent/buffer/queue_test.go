package buffer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func testOptions() Options {
	o := DefaultOptions()
	o.MaxBytes = 0
	return o
}

func openQueue(t testing.TB, dir string, o Options) *Queue {
	t.Helper()
	q, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := q.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return q
}

func payload(seq uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seq, uint64(n)))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func mustAppend(t testing.TB, q *Queue, data []byte) uint64 {
	t.Helper()
	seq, err := q.Append(data)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return seq
}

func seqs(es []Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

func wantStats(t *testing.T, q *Queue, entries int64, oldest, newest uint64) {
	t.Helper()
	s := q.Stats()
	if s.Entries != entries || s.Oldest != oldest || s.Newest != newest {
		t.Fatalf("Stats = %+v, want entries %d oldest %d newest %d", s, entries, oldest, newest)
	}
}

func TestAppendReadDelete(t *testing.T) {
	q := openQueue(t, t.TempDir(), testOptions())
	wantStats(t, q, 0, 0, 0)

	for i := uint64(1); i <= 10; i++ {
		if seq := mustAppend(t, q, payload(i, 100)); seq != fresh(i) {
			t.Fatalf("Append #%d returned seq %d", i, seq)
		}
	}
	wantStats(t, q, 10, fresh(1), fresh(10))
	if got, want := q.Stats().Bytes, int64(10*(100+entryOverhead)); got != want {
		t.Fatalf("Bytes = %d, want %d", got, want)
	}

	tests := []struct {
		name string
		from uint64
		max  int
		want []uint64
	}{
		{"all", 1, 100, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"from zero", 0, 3, []uint64{1, 2, 3}},
		{"middle", 4, 3, []uint64{4, 5, 6}},
		{"tail", 9, 5, []uint64{9, 10}},
		{"past tail", 11, 5, nil},
		{"zero max", 1, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			from := tc.from
			if from != 0 {
				from = fresh(from)
			}
			es, err := q.Read(from, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			if got := seqs(es); !slices.Equal(got, freshSeqs(tc.want)) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Fatalf("Read(%d, %d) = %v, want %v", tc.from, tc.max, got, tc.want)
			}
			for _, e := range es {
				if !bytes.Equal(e.Data, payload(e.Seq-LegacySeqLimit, 100)) {
					t.Fatalf("entry %d: wrong data", e.Seq)
				}
			}
		})
	}

	newest, err := q.ReadNewest(3)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(newest); !slices.Equal(got, freshSeqs([]uint64{10, 9, 8})) {
		t.Fatalf("ReadNewest(3) = %v", got)
	}

	if err := q.Delete(freshSeqs([]uint64{1, 2, 3})...); err != nil {
		t.Fatal(err)
	}
	wantStats(t, q, 7, fresh(4), fresh(10))
	es, _ := q.Read(0, 2)
	if got := seqs(es); !slices.Equal(got, freshSeqs([]uint64{4, 5})) {
		t.Fatalf("after delete, Read = %v", got)
	}
	if err := q.Delete(freshSeqs([]uint64{4, 5, 6, 7, 8, 9, 10})...); err != nil {
		t.Fatal(err)
	}
	wantStats(t, q, 0, 0, 0)
	if q.Stats().Bytes != 0 {
		t.Fatalf("Bytes = %d after full drain", q.Stats().Bytes)
	}
	if seq := mustAppend(t, q, []byte("x")); seq != fresh(11) {
		t.Fatalf("seq after drain = %d, want 11", seq)
	}
}

func TestDeleteOutOfOrder(t *testing.T) {
	tests := []struct {
		name    string
		deletes [][]uint64
		want    []uint64 // remaining
	}{
		{"middle first", [][]uint64{{5}, {1}}, []uint64{2, 3, 4, 6, 7, 8}},
		{"reverse", [][]uint64{{8, 7, 6}}, []uint64{1, 2, 3, 4, 5}},
		{"head after gap", [][]uint64{{2, 3}, {1}}, []uint64{4, 5, 6, 7, 8}},
		{"tail after gap", [][]uint64{{7}, {8}}, []uint64{1, 2, 3, 4, 5, 6}},
		{"missing and duplicate", [][]uint64{{3, 3, 42, 0, 3}}, []uint64{1, 2, 4, 5, 6, 7, 8}},
		{"twice", [][]uint64{{1}, {1}, {2}}, []uint64{3, 4, 5, 6, 7, 8}},
		{"all shuffled", [][]uint64{{4, 8, 1}, {6, 2, 7, 3, 5}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := openQueue(t, t.TempDir(), testOptions())
			for i := uint64(1); i <= 8; i++ {
				mustAppend(t, q, payload(i, 10))
			}
			for _, d := range tc.deletes {
				if err := q.Delete(freshSeqs(d)...); err != nil {
					t.Fatal(err)
				}
			}
			es, err := q.Read(0, 100)
			if err != nil {
				t.Fatal(err)
			}
			want := freshSeqs(tc.want)
			if got := seqs(es); !slices.Equal(got, want) && len(got)+len(want) > 0 {
				t.Fatalf("remaining = %v, want %v", got, want)
			}
			var oldest, newest uint64
			if len(want) > 0 {
				oldest, newest = want[0], want[len(want)-1]
			}
			wantStats(t, q, int64(len(tc.want)), oldest, newest)
			if got, want := q.Stats().Bytes, int64(len(tc.want)*(10+entryOverhead)); got != want {
				t.Fatalf("Bytes = %d, want %d", got, want)
			}
		})
	}
}

func TestRestartRecovery(t *testing.T) {
	tests := []struct {
		name       string
		appends    int
		deletes    []uint64
		wantSeqs   []uint64
		wantNext   uint64
		wantOldest uint64
		wantNewest uint64
	}{
		// Every Open starts a new epoch: the first number after a reopen
		// is the second epoch's first, whatever was stored.
		{"empty", 0, nil, nil, 2<<EpochShift | 1, 0, 0},
		{"untouched", 5, nil, []uint64{1, 2, 3, 4, 5}, 2<<EpochShift | 1, 1, 5},
		{"head acked", 5, []uint64{1, 2}, []uint64{3, 4, 5}, 2<<EpochShift | 1, 3, 5},
		{"tail acked", 5, []uint64{5, 4}, []uint64{1, 2, 3}, 2<<EpochShift | 1, 1, 3},
		{"holes", 6, []uint64{2, 4}, []uint64{1, 3, 5, 6}, 2<<EpochShift | 1, 1, 6},
		{"fully drained", 5, []uint64{1, 2, 3, 4, 5}, nil, 2<<EpochShift | 1, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			q, err := Open(dir, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.appends {
				mustAppend(t, q, payload(uint64(i+1), 300))
			}
			if err := q.Delete(freshSeqs(tc.deletes)...); err != nil {
				t.Fatal(err)
			}
			before := q.Stats()
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}

			q = openQueue(t, dir, testOptions())
			if after := q.Stats(); after != before {
				t.Fatalf("Stats after reopen = %+v, before close %+v", after, before)
			}
			var oldest, newest uint64
			if tc.wantOldest != 0 {
				oldest, newest = fresh(tc.wantOldest), fresh(tc.wantNewest)
			}
			wantStats(t, q, int64(len(tc.wantSeqs)), oldest, newest)
			es, err := q.Read(0, 100)
			if err != nil {
				t.Fatal(err)
			}
			if got := seqs(es); !slices.Equal(got, freshSeqs(tc.wantSeqs)) && len(got)+len(tc.wantSeqs) > 0 {
				t.Fatalf("entries after reopen = %v, want %v", got, tc.wantSeqs)
			}
			for _, e := range es {
				if !bytes.Equal(e.Data, payload(e.Seq-LegacySeqLimit, 300)) {
					t.Fatalf("entry %d: data changed across restart", e.Seq)
				}
			}
			if seq := mustAppend(t, q, []byte("next")); seq != tc.wantNext {
				t.Fatalf("first seq after reopen = %d, want %d", seq, tc.wantNext)
			}
		})
	}
}

// Sequence numbers keep rising across several drain-and-restart cycles.
func TestSeqNeverRepeats(t *testing.T) {
	dir := t.TempDir()
	var last uint64
	for cycle := range 3 {
		q, err := Open(dir, testOptions())
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			seq, err := q.Append([]byte("v"))
			if err != nil {
				t.Fatal(err)
			}
			if seq <= last {
				t.Fatalf("cycle %d: seq %d after %d", cycle, seq, last)
			}
			last = seq
		}
		if err := q.Delete(last-2, last-1, last); err != nil {
			t.Fatal(err)
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if want := uint64(3<<EpochShift | 3); last != want {
		t.Fatalf("last seq = %d, want %d", last, want)
	}
}

func TestMaxBytesDropsOldest(t *testing.T) {
	const size = 1000
	c := int64(size + entryOverhead)
	tests := []struct {
		name        string
		maxBytes    int64
		appends     int
		deletes     []uint64 // acked before the appends that overflow
		wantDropped []uint64
	}{
		{"fits", 10 * c, 10, nil, nil},
		{"one over", 10 * c, 11, nil, []uint64{1}},
		{"many over", 4 * c, 10, nil, []uint64{1, 2, 3, 4, 5, 6}},
		{"slack below entry", 4*c + c/2, 6, nil, []uint64{1, 2}},
		{"skips acked", 4 * c, 7, []uint64{2}, []uint64{1, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var dropped []uint64
			o := testOptions()
			o.MaxBytes = tc.maxBytes
			o.OnDrop = func(seq uint64, data []byte) {
				if !bytes.Equal(data, payload(seq-LegacySeqLimit, size)) {
					t.Errorf("OnDrop(%d): wrong data", seq)
				}
				mu.Lock()
				dropped = append(dropped, seq)
				mu.Unlock()
			}
			q := openQueue(t, t.TempDir(), o)
			deletes, wantDropped := freshSeqs(tc.deletes), freshSeqs(tc.wantDropped)
			for i := 1; i <= tc.appends; i++ {
				mustAppend(t, q, payload(uint64(i), size))
				if i == 4 && tc.deletes != nil {
					if err := q.Delete(deletes...); err != nil {
						t.Fatal(err)
					}
				}
				if s := q.Stats(); s.Bytes > tc.maxBytes {
					t.Fatalf("after append %d: Bytes %d > MaxBytes %d", i, s.Bytes, tc.maxBytes)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(dropped, wantDropped) {
				t.Fatalf("dropped %v, want %v", dropped, wantDropped)
			}
			es, err := q.Read(0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			s := q.Stats()
			if int64(len(es)) != s.Entries || s.Bytes != int64(len(es))*c {
				t.Fatalf("Stats %+v disagree with %d stored entries", s, len(es))
			}
			if s.Oldest != es[0].Seq || s.Newest != fresh(uint64(tc.appends)) {
				t.Fatalf("Stats %+v, first stored %d", s, es[0].Seq)
			}
			for _, e := range es {
				if slices.Contains(dropped, e.Seq) || slices.Contains(deletes, e.Seq) {
					t.Fatalf("entry %d still stored", e.Seq)
				}
			}
		})
	}
}

func TestAppendTooLarge(t *testing.T) {
	o := testOptions()
	o.MaxBytes = 1000
	q := openQueue(t, t.TempDir(), o)
	mustAppend(t, q, make([]byte, 500))
	if _, err := q.Append(make([]byte, 1000)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Append over MaxBytes: err = %v, want ErrTooLarge", err)
	}
	wantStats(t, q, 1, fresh(1), fresh(1)) // nothing dropped for an entry that can never fit
}

// Appenders, a reader that acks what it reads, and Stats readers race; every
// appended entry is read exactly once and in order.
func TestConcurrentAppendReadDelete(t *testing.T) {
	o := testOptions()
	o.SyncWrites = false
	q := openQueue(t, t.TempDir(), o)

	const appenders, perAppender = 4, 250
	total := appenders * perAppender
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	for a := range appenders {
		wg.Go(func() {
			for i := range perAppender {
				if _, err := q.Append(fmt.Appendf(nil, "%d/%d", a, i)); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			_ = q.Stats()
			if _, err := q.ReadNewest(5); err != nil {
				t.Errorf("ReadNewest: %v", err)
				return
			}
		}
	})

	var got []uint64
	next := uint64(0)
	for len(got) < total {
		ch := q.Notify()
		es, err := q.Read(next, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			select {
			case <-ch:
			case <-ctx.Done():
				t.Fatalf("timed out after %d entries", len(got))
			}
			continue
		}
		for _, e := range es {
			got = append(got, e.Seq)
		}
		next = es[len(es)-1].Seq + 1
		// Ack in reverse to exercise out-of-order deletes.
		ack := seqs(es)
		slices.Reverse(ack)
		if err := q.Delete(ack...); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()

	for i, s := range got {
		if s != fresh(uint64(i+1)) {
			t.Fatalf("read #%d has seq %d", i, s)
		}
	}
	wantStats(t, q, 0, 0, 0)
}

func TestNotifyWakesWaiter(t *testing.T) {
	q := openQueue(t, t.TempDir(), testOptions())
	ch := q.Notify()
	select {
	case <-ch:
		t.Fatal("Notify channel closed before any Append")
	default:
	}
	woke := make(chan struct{})
	go func() {
		<-ch
		close(woke)
	}()
	mustAppend(t, q, []byte("a"))
	select {
	case <-woke:
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not woken by Append")
	}
	if q.Notify() == ch {
		t.Fatal("Notify returned the spent channel")
	}
}

func TestCloseWakesWaiterAndRejects(t *testing.T) {
	q, err := Open(t.TempDir(), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	ch := q.Notify()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case <-ch:
	default:
		t.Fatal("Close did not wake the waiter")
	}
	if _, err := q.Append(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if _, err := q.Read(0, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if err := q.Delete(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Delete after Close: %v", err)
	}
}

func TestSecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	q := openQueue(t, dir, testOptions())
	mustAppend(t, q, []byte("keep"))

	q2, err := Open(dir, testOptions())
	if err == nil {
		q2.Close()
		t.Fatal("second Open of the same directory succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), dir) {
		t.Fatalf("error %q does not name the directory %s", err, dir)
	}
	// The refused Open must not have touched the data.
	if es, err := q.Read(0, 10); err != nil || len(es) != 1 {
		t.Fatalf("Read after refused Open = %v, %v", es, err)
	}
}

func TestOpenValidates(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"negative MaxBytes", func(o *Options) { o.MaxBytes = -1 }, "MaxBytes"},
		{"zero GCInterval", func(o *Options) { o.GCInterval = 0 }, "GCInterval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			tc.mod(&o)
			_, err := Open(t.TempDir(), o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}

// fresh returns the i-th sequence number (from 1) of a queue's first Open.
func fresh(i uint64) uint64 { return LegacySeqLimit + i }

func freshSeqs(is []uint64) []uint64 {
	var out []uint64
	for _, i := range is {
		out = append(out, fresh(i))
	}
	return out
}
