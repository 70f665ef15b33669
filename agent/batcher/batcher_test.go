package batcher

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type memQueue struct {
	mu      sync.Mutex
	entries [][]byte
	fail    int // fail this many appends first
}

func (q *memQueue) Append(data []byte) (uint64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail > 0 {
		q.fail--
		return 0, errors.New("disk full")
	}
	q.entries = append(q.entries, slices.Clone(data)) // the batcher reuses data
	return uint64(len(q.entries)), nil
}

func (q *memQueue) decoded(t *testing.T) []*lifelinev1.Batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*lifelinev1.Batch
	for _, e := range q.entries {
		b := &lifelinev1.Batch{}
		if err := proto.Unmarshal(e, b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func samples(n int, point string) []*lifelinev1.Sample {
	out := make([]*lifelinev1.Sample, n)
	for i := range out {
		out[i] = &lifelinev1.Sample{PointId: point, SourceTimeNs: int64(i + 1), Value: &lifelinev1.Sample_Number{Number: float64(i)}}
	}
	return out
}

func run(t *testing.T, q Appender, opts Options) (*Batcher, func()) {
	b := New(q, opts, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = b.Run(ctx); close(done) }()
	return b, func() { cancel(); <-done }
}

func TestBatchesBySizeThenAge(t *testing.T) {
	q := &memQueue{}
	b, stop := run(t, q, Options{MaxSamples: 100, MaxWait: 50 * time.Millisecond})
	b.Write(samples(250, "A"))
	deadline := time.Now().Add(5 * time.Second)
	for b.Stored() < 250 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	got := q.decoded(t)
	if len(got) != 3 || len(got[0].Samples) != 100 || len(got[1].Samples) != 100 || len(got[2].Samples) != 50 {
		t.Fatalf("batch sizes: %d batches", len(got))
	}
	var next int64 = 1
	for _, bt := range got {
		for _, s := range bt.Samples {
			if s.SourceTimeNs != next {
				t.Fatalf("order broken: %d after %d", s.SourceTimeNs, next-1)
			}
			next++
		}
	}
}

func TestShutdownFlushesPending(t *testing.T) {
	q := &memQueue{}
	b, stop := run(t, q, Options{MaxSamples: 1000, MaxWait: time.Hour})
	b.Write(samples(7, "A"))
	stop()
	if b.Stored() != 7 || len(q.decoded(t)) != 1 {
		t.Fatalf("stored %d samples after shutdown, want 7", b.Stored())
	}
}

// A failing disk keeps the samples in memory and retries; none are lost.
func TestAppendFailureRetries(t *testing.T) {
	q := &memQueue{fail: 2}
	b, stop := run(t, q, Options{MaxSamples: 10, MaxWait: 20 * time.Millisecond})
	b.Write(samples(25, "A"))
	deadline := time.Now().Add(5 * time.Second)
	for b.Stored() < 25 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	var total int
	for _, bt := range q.decoded(t) {
		total += len(bt.Samples)
	}
	if total != 25 || b.Received() != 25 {
		t.Fatalf("stored %d of 25", total)
	}
}

// Text that is not UTF-8 is the OPC UA readers' to repair. A writer that
// hands such text to the batcher anyway does not block the batch: it is
// repaired and stored, and the breach is logged.
func TestInvalidUTF8TextIsRepaired(t *testing.T) {
	q := &memQueue{}
	logs := &errorLog{}
	b := New(q, Options{MaxSamples: 10, MaxWait: time.Hour}, slog.New(logs))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = b.Run(ctx); close(done) }()
	b.Write([]*lifelinev1.Sample{
		{PointId: "A", SourceTimeNs: 1, Value: &lifelinev1.Sample_Text{Text: "运行\xff\xfe"}},
		{PointId: "A", SourceTimeNs: 2, Value: &lifelinev1.Sample_Text{Text: "正常"}},
	})
	cancel()
	<-done
	got := q.decoded(t)
	if len(got) != 1 || got[0].Samples[0].GetText() != "运行\uFFFD" || got[0].Samples[1].GetText() != "正常" {
		t.Fatalf("got %v", got)
	}
	if n := logs.count(); n != 1 {
		t.Errorf("%d errors logged, want 1 for the text the writer should have repaired", n)
	}
}

// errorLog counts the records of level Error logged to it.
type errorLog struct {
	mu sync.Mutex
	n  int
}

func (l *errorLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *errorLog) WithGroup(string) slog.Handler            { return l }
func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		l.mu.Lock()
		l.n++
		l.mu.Unlock()
	}
	return nil
}

func (l *errorLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}
