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

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Appender stores one encoded batch durably. The batcher reuses data once
// Append returns, so Append must copy what it keeps.
type Appender interface {
	Append(data []byte) (seq uint64, err error)
}

// Options bound a batch by size and age.
type Options struct {
	MaxSamples int
	MaxWait    time.Duration
	// OnGap, when set, is told of every loss as it is recorded: a summary
	// (reason, time span, samples) for a status view; the full record
	// travels in the next batch. It must return quickly and must not call
	// the batcher.
	OnGap func(*lifelinev1.Gap)
	// MaxPendingBytes bounds the samples waiting in memory for the buffer,
	// by their encoded size; 0 means DefaultMaxPendingBytes.
	MaxPendingBytes int
}

// Batcher implements the OPC UA readers' sink. Write does not wait for the
// disk: a full batch is handed to the flush goroutine, which owns all
// writes. It waits only when MaxPendingBytes of samples are already
// waiting for a buffer that is slower than the readers (see backpressure.go).
type Batcher struct {
	out    Appender
	opts   Options
	logger *slog.Logger

	mu      sync.Mutex
	pending []*lifelinev1.Sample
	started time.Time // when the first pending sample arrived
	gaps    gapLog
	carried []*lifelinev1.Gap // gap records to send again as they are
	alive   []*lifelinev1.Liveness
	events  []*lifelinev1.ConditionEvent
	marks   marks
	full    chan struct{}
	room    *sync.Cond // on mu: pending shrank, the buffer failed or Run ended
	failing bool       // the last write to the buffer failed
	stopped bool       // Run has returned

	received atomic.Uint64
	stored   atomic.Uint64
	failed   atomic.Uint64
	dropped  atomic.Uint64
	bytes    atomic.Uint64
	repeats  atomic.Uint64
	blocked  atomic.Int64 // ns Write waited for room

	// scratch is the encoding buffer, reused from batch to batch so that
	// ~100 KB a batch is not garbage; only the flush goroutine uses it.
	scratch []byte
}

// maxScratch bounds the encoding buffer kept between batches: a batch
// swollen by a burst of gaps or events is not held on to.
const maxScratch = 1 << 20

// New returns a batcher writing to out.
func New(out Appender, opts Options, logger *slog.Logger) *Batcher {
	if opts.MaxPendingBytes <= 0 {
		opts.MaxPendingBytes = DefaultMaxPendingBytes
	}
	b := &Batcher{out: out, opts: opts, logger: logger, full: make(chan struct{}, 1), marks: marks{}}
	b.room = sync.NewCond(&b.mu)
	return b
}

// Write queues samples for the next batch. Text values must be valid UTF-8,
// as the OPC UA readers make them; the batcher does not check them again.
func (b *Batcher) Write(samples []*lifelinev1.Sample) {
	if len(samples) == 0 {
		return
	}
	b.received.Add(uint64(len(samples)))
	b.mu.Lock()
	b.waitForRoom()
	if len(b.pending) == 0 {
		b.started = time.Now()
	}
	for _, s := range samples {
		if b.marks.repeat(s) {
			b.repeats.Add(1)
			continue
		}
		b.marks.note(s)
		b.pending = append(b.pending, s)
	}
	full := len(b.pending) >= b.opts.MaxSamples
	b.mu.Unlock()
	if full {
		b.signal()
	}
}

func (b *Batcher) signal() {
	select {
	case b.full <- struct{}{}:
	default:
	}
}

// Received returns how many samples were handed to Write.
func (b *Batcher) Received() uint64 { return b.received.Load() }

// Stored returns how many samples are durably in the buffer.
func (b *Batcher) Stored() uint64 { return b.stored.Load() }

// DroppedSamples returns how many buffered samples were dropped to keep
// the buffer within its bound.
func (b *Batcher) DroppedSamples() uint64 { return b.dropped.Load() }

// BytesPerSample returns the average encoded size of a stored sample, for
// estimating how many samples a backlog of bytes holds.
func (b *Batcher) BytesPerSample() float64 {
	n := b.stored.Load()
	if n == 0 {
		return 0
	}
	return float64(b.bytes.Load()) / float64(n)
}

// Run flushes batches until ctx is done, then flushes what is pending once
// more, so a clean shutdown loses nothing that was read.
func (b *Batcher) Run(ctx context.Context) error {
	tick := time.NewTicker(b.opts.MaxWait / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			b.flush(true)
			b.mu.Lock()
			b.stopped = true
			b.room.Broadcast()
			b.mu.Unlock()
			return nil
		case <-b.full:
			b.flush(false)
		case <-tick.C:
			b.mu.Lock()
			due := len(b.pending) > 0 && time.Since(b.started) >= b.opts.MaxWait
			due = due || b.owesGaps()
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
		if !b.owesGaps() && (n == 0 || (!all && n < b.opts.MaxSamples)) {
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
		b.room.Broadcast()
		gaps := coalesceUnwritable(append(b.carried, b.gaps.take()...))
		b.carried = nil
		alive := b.alive
		b.alive = nil
		events := b.takeEvents()
		b.mu.Unlock()

		if err := b.store(batch, gaps, alive, events); err != nil {
			// The samples stay in memory to be retried on the next flush:
			// a full or failing disk must not silently discard what was read.
			b.failed.Add(1)
			b.logger.Error("write batch to buffer", "samples", len(batch), "err", err)
			b.mu.Lock()
			b.failing = true
			b.room.Broadcast()
			b.pending = append(batch, b.pending...)
			b.carried = coalesceUnwritable(append(gaps, b.carried...))
			b.alive = capLiveness(append(alive, b.alive...))
			b.events = capEvents(append(events, b.events...))
			b.capPending()
			b.mu.Unlock()
			return
		}
		b.mu.Lock()
		b.failing = false
		b.mu.Unlock()
	}
}

// owesGaps reports whether gap records wait to be written; b.mu is held.
func (b *Batcher) owesGaps() bool {
	return len(b.carried) > 0 || len(b.gaps.byReason) > 0 || len(b.alive) > 0 || len(b.events) > 0
}

// store encodes a batch into the flush goroutine's scratch buffer and
// appends it to the buffer, which keeps no reference to it.
func (b *Batcher) store(samples []*lifelinev1.Sample, gaps []*lifelinev1.Gap, alive []*lifelinev1.Liveness, events []*lifelinev1.ConditionEvent) error {
	batch := lifelinev1.Batch{Samples: samples, Gaps: gaps, Liveness: alive, ConditionEvents: events}
	data, err := appendBatch(b.scratch[:0], &batch)
	if err != nil && repairText(samples) > 0 {
		// The OPC UA readers repair text where they convert values, so this
		// is a writer that broke the Write contract: protobuf refuses to
		// encode invalid UTF-8, and kept pending, the batch would be
		// retried and refused forever.
		b.logger.Error("samples with text that is not UTF-8 reached the batcher; repaired", "samples", len(samples))
		data, err = appendBatch(data[:0], &batch)
	}
	if cap(data) <= maxScratch {
		b.scratch = data[:0]
	}
	if err != nil {
		return fmt.Errorf("encode batch: %w", err)
	}
	if _, err := b.out.Append(data); err != nil {
		return err
	}
	b.stored.Add(uint64(len(samples)))
	b.bytes.Add(uint64(len(data)))
	return nil
}

// repairText replaces bytes that are not UTF-8 in text values with U+FFFD
// and returns how many values it changed.
func repairText(samples []*lifelinev1.Sample) int {
	n := 0
	for _, s := range samples {
		if t, ok := s.Value.(*lifelinev1.Sample_Text); ok && !utf8.ValidString(t.Text) {
			t.Text = strings.ToValidUTF8(t.Text, "\uFFFD")
			n++
		}
	}
	return n
}
