package batcher

import (
	"testing"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// A condition event rides in the next batch, alone if no samples come;
// after a failed write it is kept and written with the retry.
func TestConditionEventTravelsInABatch(t *testing.T) {
	q := &memQueue{fail: 1}
	b, stop := run(t, q, Options{MaxSamples: 100, MaxWait: 20 * time.Millisecond})
	b.RecordConditionEvent(&lifelinev1.ConditionEvent{EventId: []byte{1, 2}, ConditionName: "LT101_HH", Active: true})
	deadline := time.Now().Add(5 * time.Second)
	for len(q.decoded(t)) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	got := q.decoded(t)
	if len(got) != 1 || len(got[0].ConditionEvents) != 1 || got[0].ConditionEvents[0].GetConditionName() != "LT101_HH" || len(got[0].Samples) != 0 {
		t.Fatalf("batches %v, want one carrying the condition event", got)
	}
}

// More events than fit one batch are split over several, none lost.
func TestConditionEventsSplitOverBatches(t *testing.T) {
	q := &memQueue{}
	b, stop := run(t, q, Options{MaxSamples: 100, MaxWait: 20 * time.Millisecond})
	for i := range maxBatchEvents + 10 {
		b.RecordConditionEvent(&lifelinev1.ConditionEvent{EventId: []byte{byte(i), byte(i >> 8)}})
	}
	total := 0
	deadline := time.Now().Add(5 * time.Second)
	for total < maxBatchEvents+10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		total = 0
		for _, bt := range q.decoded(t) {
			total += len(bt.ConditionEvents)
		}
	}
	stop()
	got := q.decoded(t)
	if total != maxBatchEvents+10 || len(got) < 2 || len(got[0].ConditionEvents) != maxBatchEvents {
		t.Fatalf("%d events in %d batches, want %d in at least 2", total, len(got), maxBatchEvents+10)
	}
}
