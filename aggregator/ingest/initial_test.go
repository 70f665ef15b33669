package ingest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// 5,000 initial values of points with 60-byte ids (an OPC UA server
// re-sending everything after a resubscribe) are stored, and when sent
// again recognised as already stored, instead of failing the lookup of
// what is stored and being resent forever.
func TestLargeInitialBatchStored(t *testing.T) {
	f := startStored(t, writer.Options{MaxDelay: 20 * time.Millisecond})
	const n = 5000
	points := make([]string, n)
	for i := range points {
		id := fmt.Sprintf("UNIT-%04d.", i)
		points[i] = id + strings.Repeat("X", 60-len(id))
	}
	ts := time.Now().Add(-time.Hour)
	initial := func(seq uint64) *lifelinev1.AgentMessage {
		m := batch(seq)
		for i, p := range points {
			s := num(p, ts, float64(i))
			s.Initial = true
			m.GetBatch().Samples = append(m.GetBatch().Samples, s)
		}
		return m
	}
	for round, want := range []uint32{0, n} {
		st := f.open(t, "S1", points...)
		if err := st.Send(initial(uint64(round + 1))); err != nil {
			t.Fatal(err)
		}
		select {
		case m, ok := <-replies(st):
			if !ok || m.GetAck() == nil {
				t.Fatalf("round %d: got %v, want an ack", round, m)
			}
			if m.GetAck().GetDuplicates() != want {
				t.Fatalf("round %d: %d duplicates, want %d", round, m.GetAck().GetDuplicates(), want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: no ack", round)
		}
		st.CloseSend()
	}
}
