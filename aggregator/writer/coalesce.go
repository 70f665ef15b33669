package writer

import (
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// batchKey is a batch's identity: its key in the ledger.
type batchKey struct {
	site, buffer string
	seq          uint64
}

func keyOf(b *store.Batch) batchKey {
	return batchKey{b.SiteID, lifelinev1.LedgerBufferID(b.BufferID, b.Seq), b.Seq}
}

// coalescer tracks the batches queued or being inserted, so that a batch
// submitted again meanwhile (an agent that reconnected and resent what its
// old stream had delivered) joins the first submission instead of being
// inserted beside it: one insert never carries a batch twice, and the
// rollups' views never count it twice. Its fields are guarded by the
// Writer's mu.
type coalescer struct {
	// held maps each batch in the Writer to the done callbacks of its
	// later submissions.
	held map[batchKey][]func(error)
}

// join adds done to the submission of b already held and reports whether
// there was one.
func (c *coalescer) join(b *store.Batch, done func(error)) bool {
	k := keyOf(b)
	later, ok := c.held[k]
	if ok {
		c.held[k] = append(later, done)
	}
	return ok
}

// hold records b as queued.
func (c *coalescer) hold(b *store.Batch) {
	if c.held == nil {
		c.held = make(map[batchKey][]func(error))
	}
	c.held[keyOf(b)] = nil
}

// release forgets b and returns the callbacks that joined it.
func (c *coalescer) release(b *store.Batch) []func(error) {
	k := keyOf(b)
	later := c.held[k]
	delete(c.held, k)
	return later
}
