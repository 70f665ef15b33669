package batcher

import (
	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// marks remember each point's newest source time taken in, so a value an
// OPC UA server re-sends after a (re)subscribe — same point, same source
// time — is recognised and not stored twice.
type marks map[string]int64

// repeat reports whether s re-sends the newest value already taken for its
// point. Only values flagged initial are candidates: a server legitimately
// sends an older timestamp after its clock is set back, and that is data.
func (m marks) repeat(s *lifelinev1.Sample) bool {
	return s.GetInitial() && m[s.GetPointId()] == s.GetSourceTimeNs()
}

func (m marks) note(s *lifelinev1.Sample) {
	if ts := s.GetSourceTimeNs(); ts > m[s.GetPointId()] {
		m[s.GetPointId()] = ts
	}
}

// Seed teaches the batcher the newest values still in the buffer from an
// earlier run (newest entries first), so the values servers re-send after
// the agent restarts are recognised. Call it before any Write.
func (b *Batcher) Seed(entries [][]byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, data := range entries {
		var batch lifelinev1.Batch
		if err := proto.Unmarshal(data, &batch); err != nil {
			continue
		}
		for _, s := range batch.Samples {
			b.marks.note(s)
		}
	}
}

// Repeats returns how many re-sent values were recognised and dropped.
func (b *Batcher) Repeats() uint64 { return b.repeats.Load() }
