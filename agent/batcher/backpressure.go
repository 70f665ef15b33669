package batcher

import "time"

// DefaultMaxPendingBytes bounds, by encoded size, the samples that wait in
// memory for the buffer when Options.MaxPendingBytes is 0: ~38,000 samples
// of a plant's numbers (~55 bytes each), a third of a second at 100,000
// samples/s and ~7 MB of heap. Enough to ride out one slow fsync; a disk
// slower than that for longer slows the readers instead, and the values
// wait in the server's item queues (100 values each, 10 s at 10 Hz) rather
// than in the agent. At 4 MiB an agent held to 0.1 core kept ~14 MB of
// samples here.
const DefaultMaxPendingBytes = 2 << 20

// minSampleBytes floors the average encoded size the bound is reckoned
// with, so that tiny samples cannot multiply the samples it lets wait.
const minSampleBytes = 32

// waitForRoom blocks Write while the samples waiting for the buffer have
// reached their bound; b.mu is held. The caller is a reader's publish loop:
// while it waits it sends no publish requests, so the OPC UA server keeps
// new values in its monitored items' queues (and sets the overflow bit when
// those fill) instead of the agent keeping them in its heap. A failing
// buffer does not block (the samples wait up to capPending's bound and are
// then recorded as a gap), nor does a stopped batcher (nothing would drain).
func (b *Batcher) waitForRoom() {
	if b.failing || b.stopped || len(b.pending) < b.pendingLimit() {
		return
	}
	start := time.Now()
	for !b.failing && !b.stopped && len(b.pending) >= b.pendingLimit() {
		b.signal()
		b.room.Wait()
	}
	b.blocked.Add(int64(time.Since(start)))
}

// Blocked returns how long Write has waited for the buffer in all: time the
// readers spent behind a disk slower than they are.
func (b *Batcher) Blocked() time.Duration { return time.Duration(b.blocked.Load()) }

// pendingLimit is MaxPendingBytes in samples, at the average encoded size
// of the samples stored so far; b.mu is held.
func (b *Batcher) pendingLimit() int {
	per := max(b.BytesPerSample(), minSampleBytes)
	return max(int(float64(b.opts.MaxPendingBytes)/per), b.opts.MaxSamples)
}
