package batcher

import (
	"log/slog"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/lifeline-telemetry/lifeline/agent/buffer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// With a bounded buffer and nobody draining it, the oldest batches are
// dropped and the loss travels as a gap record: what is still buffered
// plus what the gaps report equals everything written.
func TestBufferFullBecomesGapRecord(t *testing.T) {
	var b *Batcher
	opts := buffer.DefaultOptions()
	opts.MaxBytes = 256 << 10
	opts.OnDrop = func(seq uint64, data []byte) { b.Dropped(seq, data) }
	q, err := buffer.Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var noted []*lifelinev1.Gap // as a status view is told of them
	b = New(q, Options{MaxSamples: 500, MaxWait: 1e9, OnGap: func(g *lifelinev1.Gap) { noted = append(noted, g) }},
		slog.New(slog.DiscardHandler))

	const total = 40000
	for i := range total / 500 {
		batch := make([]*lifelinev1.Sample, 500)
		for j := range batch {
			n := int64(i*500 + j + 1)
			batch[j] = &lifelinev1.Sample{PointId: []string{"T101.LT", "T102.LT"}[j%2], SourceTimeNs: n, Value: &lifelinev1.Sample_Number{Number: float64(n)}}
		}
		b.Write(batch)
		b.flush(true)
	}
	b.flush(true) // the gap of the last drop

	var kept, lost uint64
	var gaps []*lifelinev1.Gap
	entries, err := q.Read(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		var bt lifelinev1.Batch
		if err := proto.Unmarshal(e.Data, &bt); err != nil {
			t.Fatal(err)
		}
		kept += uint64(len(bt.Samples))
		gaps = append(gaps, bt.Gaps...)
	}
	// Gaps in batches that were themselves dropped were carried forward.
	var minFrom int64 = 1 << 62
	for _, g := range gaps {
		lost += g.Samples
		if g.Reason != "buffer_full" || len(g.PointIds) != 2 {
			t.Fatalf("gap %v", g)
		}
		minFrom = min(minFrom, g.FromNs)
	}
	if lost == 0 {
		t.Fatal("nothing dropped: the bound was not reached")
	}
	if kept+lost != total || b.DroppedSamples() != lost {
		t.Fatalf("kept %d + lost %d != %d (batcher counted %d dropped)", kept, lost, total, b.DroppedSamples())
	}
	if minFrom != 1 {
		t.Fatalf("first gap starts at %d, want 1 (the oldest sample)", minFrom)
	}
	if st := q.Stats(); st.Bytes > opts.MaxBytes {
		t.Fatalf("buffer holds %d bytes, bound %d", st.Bytes, opts.MaxBytes)
	}
	var notedLost uint64
	for _, g := range noted {
		notedLost += g.Samples
		if g.Reason != GapBufferFull || g.FromNs < 1 || g.ToNs < g.FromNs {
			t.Fatalf("noted gap %v", g)
		}
	}
	if notedLost != lost || noted[0].FromNs != 1 {
		t.Fatalf("OnGap was told of %d lost samples from %d, want %d from 1", notedLost, noted[0].FromNs, lost)
	}
}
