// Package batcher gathers the samples OPC UA readers deliver into batches
// and writes each batch to the agent's durable buffer as one entry.
package batcher

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Appender stores one encoded batch durably.
type Appender interface {
	Append(data []byte) (seq uint64, err error)
}

// Options bound a batch by size and age.
type Options struct {
	MaxSamples int
	MaxWait    time.Duration
}

// Batcher implements the OPC UA readers' sink. Write never blocks on disk:
// a full batch is handed to the flush goroutine, which owns all writes.
type Batcher struct {
	out    Appender
	opts   Options
	logger *slog.Logger

	mu      sync.Mutex
	pending []*lifelinev1.Sample
	started time.Time // when the first pending sample arrived
	full    chan struct{}

	received atomic.Uint64
	stored   atomic.Uint64
	failed   atomic.Uint64
}

// New returns a batcher writing to out.
func New(out Appender, opts Options, logger *slog.Logger) *Batcher {
	return &Batcher{out: out, opts: opts, logger: logger, full: make(chan struct{}, 1)}
}

// Write queues samples for the next batch.
func (b *Batcher) Write(samples []*lifelinev1.Sample) {
	if len(samples) == 0 {
		return
	}
	b.received.Add(uint64(len(samples)))
	b.mu.Lock()
	if len(b.pending) == 0 {
		b.started = time.Now()
	}
	b.pending = append(b.pending, samples...)
	full := len(b.pending) >= b.opts.MaxSamples
	b.mu.Unlock()
	if full {
		select {
		case b.full <- struct{}{}:
		default:
		}
	}
}

// Received returns how many samples were handed to Write.
func (b *Batcher) Received() uint64 { return b.received.Load() }

// Stored returns how many samples are durably in the buffer.
func (b *Batcher) Stored() uint64 { return b.stored.Load() }

// Run flushes batches until ctx is done, then flushes what is pending once
// more, so a clean shutdown loses nothing that was read.
func (b *Batcher) Run(ctx context.Context) error {
	tick := time.NewTicker(b.opts.MaxWait / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			b.flush(true)
			return nil
		case <-b.full:
			b.flush(false)
		case <-tick.C:
			b.mu.Lock()
			due := len(b.pending) > 0 && time.Since(b.started) >= b.opts.MaxWait
			b.mu.Unlock()
			if due {
				b.flush(true)
			}
		}
	}
}

// flush writes full batches, and the partial remainder when all is set.
func (b *Batcher) flush(all bool) {
	for {
		b.mu.Lock()
		n := len(b.pending)
		if n == 0 || (!all && n < b.opts.MaxSamples) {
			b.mu.Unlock()
			return
		}
		if n > b.opts.MaxSamples {
			n = b.opts.MaxSamples
		}
		batch := make([]*lifelinev1.Sample, n)
		copy(batch, b.pending[:n])
		rest := copy(b.pending, b.pending[n:])
		clear(b.pending[rest:])
		b.pending = b.pending[:rest]
		if rest > 0 {
			b.started = time.Now()
		}
		b.mu.Unlock()

		if err := b.store(batch); err != nil {
			// The samples stay in memory to be retried on the next flush:
			// a full or failing disk must not silently discard what was read.
			b.failed.Add(1)
			b.logger.Error("write batch to buffer", "samples", len(batch), "err", err)
			b.mu.Lock()
			b.pending = append(batch, b.pending...)
			b.mu.Unlock()
			return
		}
	}
}

func (b *Batcher) store(samples []*lifelinev1.Sample) error {
	for _, s := range samples {
		sanitize(s)
	}
	data, err := proto.Marshal(&lifelinev1.Batch{Samples: samples})
	if err != nil {
		return fmt.Errorf("encode batch: %w", err)
	}
	if _, err := b.out.Append(data); err != nil {
		return err
	}
	b.stored.Add(uint64(len(samples)))
	return nil
}

// sanitize replaces bytes that are not UTF-8 in a text value with U+FFFD.
// Protobuf refuses to encode such a string, and one device sending Latin-1
// or GBK bytes must not make a whole batch unsendable.
func sanitize(s *lifelinev1.Sample) {
	if t, ok := s.Value.(*lifelinev1.Sample_Text); ok && !utf8.ValidString(t.Text) {
		t.Text = strings.ToValidUTF8(t.Text, "\uFFFD")
	}
}
