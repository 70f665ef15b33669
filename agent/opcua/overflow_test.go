package opcua

import (
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
)

// overflowBits are the info bits of a status code that say values of
// the item were discarded from its full queue before this one (OPC UA
// Part 4, 7.39 and 5.12.1.5): the DataValue info type and Overflow.
const overflowBits = 0x0480

// The simulator with queues of the size asked for (QueueValues): two load
// points change at 100 Hz, the reader asks for queues of 4 and publishes
// once a second, so each item's queue overflows between two publishes.
// The server discards the oldest values and flags the next with the
// Overflow bit; the reader keeps the bit in the sample's status (a Good
// value that says values were lost before it), so the loss the server
// counted reaches the store as a flag, never silently.
func TestReaderKeepsOverflowBit(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plantsim.Options{Addr: "127.0.0.1:0", Points: 2, Rate: 100, Tick: time.Hour, QueueValues: true})
	src := loadSource(sim.Endpoint(), 2)
	src.PublishingInterval = config.Duration(time.Second)
	src.SamplingInterval = config.Duration(10 * time.Millisecond)
	src.QueueSize = 4
	sink := &recorder{}
	r := New(src, sink, testLogger(t))
	start := time.Now()
	running(t, r)

	flagged := func() (n, total int) {
		for _, ss := range sink.samples(start) {
			for _, s := range ss {
				total++
				if s.Status&overflowBits == overflowBits {
					n++
				}
			}
		}
		return n, total
	}
	waitFor(t, "samples with the Overflow bit from both points", 15*time.Second, func() bool {
		got := sink.samples(start)
		for _, id := range []string{"L00001", "L00002"} {
			ok := false
			for _, s := range got[id] {
				ok = ok || s.Status&overflowBits == overflowBits
			}
			if !ok {
				return false
			}
		}
		return true
	})
	n, total := flagged()
	if sim.Overflowed() == 0 {
		t.Fatal("the simulator counted no overflowed value")
	}
	for id, ss := range sink.samples(start) {
		for _, s := range ss {
			if s.Status&overflowBits == overflowBits && isBad(ua.StatusCode(s.Status)) {
				t.Errorf("%s: an overflowed value arrived Bad (0x%08X); the Overflow bit flags a Good value", id, s.Status)
			}
		}
	}
	// A queue of 4 holds at most 4 values a publish, one of them flagged.
	if n == 0 || total < 2*n {
		t.Errorf("%d of %d samples flagged; want some, at most one in every queue's worth", n, total)
	}
}
