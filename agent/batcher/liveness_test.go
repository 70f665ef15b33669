package batcher

import (
	"testing"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// A liveness record rides in the next batch, alone if no samples come;
// after a failed write it is kept and written with the retry.
func TestLivenessTravelsInABatch(t *testing.T) {
	q := &memQueue{fail: 1}
	b, stop := run(t, q, Options{MaxSamples: 100, MaxWait: 20 * time.Millisecond})
	b.RecordLiveness(&lifelinev1.Liveness{MinuteNs: 60e9, PointIds: []string{"T101.LT"}})
	deadline := time.Now().Add(5 * time.Second)
	for len(q.decoded(t)) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	got := q.decoded(t)
	if len(got) != 1 || len(got[0].Liveness) != 1 || got[0].Liveness[0].GetPointIds()[0] != "T101.LT" || len(got[0].Samples) != 0 {
		t.Fatalf("batches %v, want one carrying the liveness record", got)
	}
}
