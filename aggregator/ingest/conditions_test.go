package ingest

import (
	"strings"
	"testing"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Condition events reach the writer with the batch; one with an absurd
// time is left out, the batch kept; one with an oversized message refuses
// the batch.
func TestConditionEventsReachTheWriter(t *testing.T) {
	f := start(t)
	st, _ := open(t, f, "S1", "A")
	m := batch(1, num("A", time.Now(), 1))
	now := time.Now().UnixNano()
	m.GetBatch().ConditionEvents = []*lifelinev1.ConditionEvent{
		{EventId: []byte{1}, ConditionName: "LSH201", TimeNs: now, Active: true},
		{EventId: []byte{2}, ConditionName: "LSH201", TimeNs: 1},
	}
	sendAcked(t, f, st, m)
	f.writer.mu.Lock()
	got := f.writer.batches[0].ConditionEvents
	f.writer.mu.Unlock()
	if len(got) != 1 || got[0].GetConditionName() != "LSH201" || got[0].GetTimeNs() != now {
		t.Fatalf("condition events at the writer: %v", got)
	}
	st.CloseSend()
}

func TestConditionEventLimits(t *testing.T) {
	ok := &lifelinev1.ConditionEvent{EventId: []byte{1}, Message: strings.Repeat("x", maxEventMessageLen)}
	if err := validateConditionEvents([]*lifelinev1.ConditionEvent{ok}); err != nil {
		t.Fatal(err)
	}
	for name, e := range map[string]*lifelinev1.ConditionEvent{
		"no event id": {},
		"long id":     {EventId: make([]byte, maxEventIDLen+1)},
		"long name":   {EventId: []byte{1}, ConditionName: strings.Repeat("x", maxEventNameLen+1)},
		"long text":   {EventId: []byte{1}, Message: strings.Repeat("x", maxEventMessageLen+1)},
	} {
		if err := validateConditionEvents([]*lifelinev1.ConditionEvent{e}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
