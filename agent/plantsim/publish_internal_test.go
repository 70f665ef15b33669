package plantsim

import (
	"context"
	"testing"
	"time"

	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
)

// A publish takes at most its limit, whole items first and each item's
// values in order; what is left waits for the next.
func TestTakeBoundsAPublish(t *testing.T) {
	item := func(h uint32, n int) *itemQueue {
		iq := &itemQueue{handle: h}
		for range n {
			iq.values = append(iq.values, &ua.MonitoredItemNotification{ClientHandle: h})
		}
		return iq
	}
	order := []*itemQueue{item(1, 3), item(2, 4), item(3, 2)}
	got, order := take(order, 5)
	if len(got) != 5 || got[2].ClientHandle != 1 || got[3].ClientHandle != 2 {
		t.Fatalf("first publish %d values", len(got))
	}
	if len(order) != 2 || len(order[0].values) != 2 || order[0].handle != 2 {
		t.Fatalf("left %d items", len(order))
	}
	got, order = take(order, 5)
	if len(got) != 4 || len(order) != 0 {
		t.Fatalf("second publish %d values, %d items left", len(got), len(order))
	}
}

// A change reaches a subscription of the sim's own (QueueValues) through
// its item's queue, never through gopcua's notification channel: a
// subscription that is not taking values off (busy writing a large
// response) cannot hold up the plant. Its item's queue of 4 keeps the
// newest 4 of 300 changes, the oldest flagged with the Overflow bit, and
// the sim counts the 296 it discarded; nothing is dropped unqueued.
func TestNotifyNeverWaitsForASimSubscription(t *testing.T) {
	s := New(Options{Addr: "127.0.0.1:0", QueueValues: true, ExcursionsPerHour: -1, Tick: time.Hour,
		Scripted: []PointSpec{{ID: "S1", Identifier: "Scripted.S1"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(ctx)
	v := s.byID["S1"]
	sub := server.NewSubscription() // its NotifyChannel (100) is never read
	q := newSubQueue()
	q.set(1, 4)
	s.pubMu.Lock()
	s.queues[sub] = q
	s.pubMu.Unlock()
	mis := s.srv.MonitoredItemService
	mis.Mu.Lock()
	mis.Nodes[v.key] = append(mis.Nodes[v.key], &server.MonitoredItem{ID: mis.NextID(), Sub: sub, Req: &ua.MonitoredItemCreateRequest{
		ItemToMonitor:       &ua.ReadValueID{NodeID: v.id, AttributeID: ua.AttributeIDValue},
		RequestedParameters: &ua.MonitoringParameters{ClientHandle: 1, QueueSize: 4},
	}})
	mis.Mu.Unlock()

	start := time.Now()
	for i := range 300 {
		if !v.set(float64(i), start.Add(time.Duration(i)*time.Millisecond)) {
			t.Fatalf("change %d not made", i)
		}
		s.notify(ctx, mis, []*variable{v})
	}
	if d := s.Dropped(); d != 0 {
		t.Errorf("%d notifications dropped unqueued, want 0", d)
	}
	if got := s.Overflowed(); got != 296 {
		t.Errorf("overflowed %d, want 296", got)
	}
	values, more := q.take(100)
	if len(values) != 4 || more {
		t.Fatalf("queue held %d values (more %v), want 4", len(values), more)
	}
	for i, n := range values {
		flagged := n.Value.Status&(infoTypeDataValue|infoOverflow) == infoTypeDataValue|infoOverflow
		if got := n.Value.Value.Value(); got != float64(296+i) || flagged != (i == 0) {
			t.Errorf("value %d: %v, overflow bit %v; want %d, bit only on the oldest", i, got, flagged, 296+i)
		}
	}
}
