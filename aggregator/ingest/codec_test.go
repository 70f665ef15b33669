package ingest

import (
	"testing"
	"time"
	"unsafe"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// TestBatchDecodedBySlabs sends a batch through the listener and checks
// that the server decoded it with the wire codec: its samples reach the
// writer as neighbours in one array, which proto.Unmarshal never makes.
func TestBatchDecodedBySlabs(t *testing.T) {
	f := start(t)
	st, _ := open(t, f, "S1", "T101.LT", "液位.LT")
	now := time.Now()
	sent := []*lifelinev1.Sample{num("T101.LT", now, 1), num("液位.LT", now, 2), num("T101.LT", now.Add(time.Second), 3)}
	if ack := sendAcked(t, f, st, batch(1, sent...)); len(ack.GetRejected()) != 0 {
		t.Fatalf("rejected %v", ack.GetRejected())
	}
	f.writer.mu.Lock()
	stored := f.writer.batches[0].Samples
	f.writer.mu.Unlock()
	if len(stored) != len(sent) {
		t.Fatalf("stored %v", stored)
	}
	for i, s := range stored {
		if s.GetPointId() != sent[i].GetPointId() || s.GetNumber() != sent[i].GetNumber() || s.GetSourceTimeNs() != sent[i].GetSourceTimeNs() {
			t.Fatalf("sample %d stored as %v, sent as %v", i, s, sent[i])
		}
		if i > 0 && uintptr(unsafe.Pointer(s))-uintptr(unsafe.Pointer(stored[i-1])) != unsafe.Sizeof(lifelinev1.Sample{}) {
			t.Fatalf("samples %d and %d were decoded apart: the server does not use the wire codec", i-1, i)
		}
	}
	st.CloseSend()
}
