package plantsim

import (
	"testing"

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
