package batcher

import (
	"log/slog"
	"testing"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// While the buffer refuses every write, what waits in memory stays
// bounded; the samples dropped to keep it so are one buffer_unwritable gap
// that arrives with the first batch the buffer takes again.
func TestPendingIsBoundedWhileTheBufferFails(t *testing.T) {
	q := &memQueue{fail: 1 << 30}
	const per = 10
	b := New(q, Options{MaxSamples: per}, slog.New(slog.DiscardHandler))
	total := 0
	for i := range 200 {
		ss := samples(per, "P")
		for j, s := range ss {
			s.SourceTimeNs = int64(i*per + j + 1)
		}
		b.Write(ss)
		total += per
		b.flush(false)
	}
	b.mu.Lock()
	pending := len(b.pending)
	b.mu.Unlock()
	if pending > maxPendingBatches*per {
		t.Fatalf("%d samples pending, bound %d", pending, maxPendingBatches*per)
	}
	q.mu.Lock()
	q.fail = 0
	q.mu.Unlock()
	b.flush(true)

	var stored, lost uint64
	var gaps []*lifelinev1.Gap
	for _, bt := range q.decoded(t) {
		stored += uint64(len(bt.Samples))
		gaps = append(gaps, bt.Gaps...)
	}
	if len(gaps) != 1 || gaps[0].Reason != GapBufferUnwritable {
		t.Fatalf("gaps %v, want one %s", gaps, GapBufferUnwritable)
	}
	lost = gaps[0].Samples
	if stored+lost != uint64(total) || gaps[0].FromNs != 1 || gaps[0].ToNs != int64(lost) {
		t.Fatalf("stored %d + lost %d != %d read, or gap span %d..%d wrong", stored, lost, total, gaps[0].FromNs, gaps[0].ToNs)
	}
}
