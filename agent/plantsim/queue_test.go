package plantsim_test

import (
	"context"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
)

// A monitored item keeps the queue it asked for between two publishes:
// a point changing at 100 Hz, published every 300 ms, arrives several
// values at a time; a queue of 4 overflows, drops the oldest, sets the
// Overflow bit on the value after them, and the sim counts the loss.
func TestSubscriptionHonoursQueueSize(t *testing.T) {
	sim := startSim(t, plantsim.Options{Points: 2, Rate: 100, QueueValues: true})
	c := connect(t, sim)
	ids := []string{plantsim.LoadIDPrefix + "00001", plantsim.LoadIDPrefix + "00002"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch := make(chan *opcua.PublishNotificationData, 64)
	sub, err := c.Subscribe(ctx, &opcua.SubscriptionParameters{Interval: 300 * time.Millisecond}, ch)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Cancel(context.Background())
	var reqs []*ua.MonitoredItemCreateRequest
	for i, size := range []uint32{100, 4} {
		r := opcua.NewMonitoredItemCreateRequestWithDefaults(resolve(t, c, spec(t, sim, ids[i]).Node), ua.AttributeIDValue, uint32(i+1))
		r.RequestedParameters.QueueSize = size
		reqs = append(reqs, r)
	}
	res, err := sub.Monitor(ctx, ua.TimestampsToReturnBoth, reqs...)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []uint32{100, 4} {
		if got := res.Results[i].RevisedQueueSize; got != want {
			t.Fatalf("item %d: revised queue size %d, want %d", i+1, got, want)
		}
	}
	most := map[uint32]int{}
	overflow := false
	deadline := time.After(6 * time.Second)
	for publishes := 0; publishes < 6; {
		select {
		case <-deadline:
			t.Fatalf("%d publishes in 6 s", publishes)
		case msg := <-ch:
			dcn, ok := msg.Value.(*ua.DataChangeNotification)
			if !ok {
				continue
			}
			publishes++
			per := map[uint32]int{}
			for _, it := range dcn.MonitoredItems {
				per[it.ClientHandle]++
				if it.Value.Status&0x480 == 0x480 {
					if it.ClientHandle != 2 {
						t.Errorf("overflow bit on item %d, whose queue never fills", it.ClientHandle)
					}
					overflow = true
				}
			}
			for h, n := range per {
				most[h] = max(most[h], n)
			}
		}
	}
	if most[1] < 10 {
		t.Errorf("item 1 (queue 100): at most %d values a publish, want ≥ 10 (a point changing at 100 Hz, 300 ms apart)", most[1])
	}
	if most[2] != 4 {
		t.Errorf("item 2 (queue 4): at most %d values a publish, want 4", most[2])
	}
	if !overflow {
		t.Error("no value of item 2 had the Overflow bit")
	}
	if sim.Overflowed() == 0 {
		t.Error("the sim counted no overflowed value")
	}
}
