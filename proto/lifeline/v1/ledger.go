package lifelinev1

// LegacySeqLimit splits the sequence space. An agent numbers its batches
// epoch<<40 | counter with epoch >= 1, so every number it hands out is at
// least LegacySeqLimit; buffers made before buffer identities existed
// numbered from 1 and their agents sent no buffer_id.
const LegacySeqLimit uint64 = 1 << 40

// LedgerBufferID returns the buffer identity under which the aggregator's
// ledger keeps batch seq of a stream whose Hello named bufferID. A number
// below LegacySeqLimit was handed out before the buffer had an identity (an
// agent upgraded with batches still buffered), so it stays with the site's
// legacy identity "", where its earlier commits are recorded.
func LedgerBufferID(bufferID string, seq uint64) string {
	if seq < LegacySeqLimit {
		return ""
	}
	return bufferID
}
