package opcua

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/lifeline-telemetry/lifeline/agent/batcher"
	"github.com/lifeline-telemetry/lifeline/agent/config"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Text an OPC UA server sends that is not UTF-8 (a device writing GBK or
// Latin-1 into a String) is repaired once, where the value is converted:
// each run of bad bytes becomes one U+FFFD, Chinese text round-trips, and
// the batcher stores the samples as they came without repairing anything
// itself (its guard for writers that break the contract logs an error).
func TestTextIsRepairedOnceOnItsWayToTheBuffer(t *testing.T) {
	const (
		invalid  = "报警\xff\xfe区 \xb8\xdf" // a GBK "高" among UTF-8
		repaired = "报警\uFFFD区 \uFFFD"
		chinese  = "储罐液位高高 一级报警"
	)
	vars := []testVar{
		{"GD.MSG", func(int) any { return invalid }},
		{"T101.描述", func(int) any { return chinese }},
	}
	ts := startServer(t, serverOptions{vars: vars})
	src := plantSource(ts.endpoint)
	src.Points = []config.Point{{ID: "GD.MSG", Node: node("GD.MSG")}, {ID: "T101.描述", Node: node("T101.描述")}}

	q := &entries{}
	logs := &errorCount{}
	b := batcher.New(q, batcher.Options{MaxSamples: 10, MaxWait: 50 * time.Millisecond}, slog.New(logs))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = b.Run(ctx); close(done) }()
	r := New(src, b, testLogger(t))
	stop := running(t, r)
	waitFor(t, "a sample of each point stored", 10*time.Second, func() bool { return len(q.texts(t)) == 2 })
	stop()
	cancel()
	<-done

	got := q.texts(t)
	if got["GD.MSG"] != repaired {
		t.Errorf("GD.MSG stored as %q, want %q", got["GD.MSG"], repaired)
	}
	if got["T101.描述"] != chinese {
		t.Errorf("T101.描述 stored as %q, want %q", got["T101.描述"], chinese)
	}
	if n := logs.count(); n != 0 {
		t.Errorf("%d errors logged by the batcher: it had text to repair again", n)
	}
}

// entries is a buffer in memory.
type entries struct {
	mu   sync.Mutex
	data [][]byte
}

func (e *entries) Append(data []byte) (uint64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.data = append(e.data, slices.Clone(data)) // the batcher reuses data
	return uint64(len(e.data)), nil
}

// texts decodes the stored batches and returns the last text per point.
func (e *entries) texts(t *testing.T) map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]string{}
	for _, data := range e.data {
		var b lifelinev1.Batch
		if err := proto.Unmarshal(data, &b); err != nil {
			t.Fatalf("stored batch does not decode: %v", err)
		}
		for _, s := range b.Samples {
			if x, ok := s.Value.(*lifelinev1.Sample_Text); ok {
				out[s.PointId] = x.Text
			}
		}
	}
	return out
}

// errorCount counts the records of level Error logged to it.
type errorCount struct {
	mu sync.Mutex
	n  int
}

func (l *errorCount) Enabled(context.Context, slog.Level) bool { return true }
func (l *errorCount) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *errorCount) WithGroup(string) slog.Handler            { return l }
func (l *errorCount) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		l.mu.Lock()
		l.n++
		l.mu.Unlock()
	}
	return nil
}

func (l *errorCount) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}
