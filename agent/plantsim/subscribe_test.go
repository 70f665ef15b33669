package plantsim_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
)

// subscribe monitors the nodes (handle i+1 for nodes[i]) and returns the
// channel the client delivers notifications on.
func subscribe(t *testing.T, c *opcua.Client, interval time.Duration, nodes ...*ua.NodeID) <-chan *opcua.PublishNotificationData {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch := make(chan *opcua.PublishNotificationData, 1024)
	sub, err := c.Subscribe(ctx, &opcua.SubscriptionParameters{Interval: interval}, ch)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sub.Cancel(ctx)
	})
	var reqs []*ua.MonitoredItemCreateRequest
	for i, n := range nodes {
		reqs = append(reqs, opcua.NewMonitoredItemCreateRequestWithDefaults(n, ua.AttributeIDValue, uint32(i+1)))
	}
	res, err := sub.Monitor(ctx, ua.TimestampsToReturnBoth, reqs...)
	if err != nil {
		t.Fatalf("Monitor: %v", err)
	}
	for i, r := range res.Results {
		if r.StatusCode != ua.StatusOK {
			t.Fatalf("monitor %s: %v", nodes[i], r.StatusCode)
		}
	}
	return ch
}

// collect gathers data changes until stop returns true or the timeout
// passes, calling each for every item received.
func collect(t *testing.T, ch <-chan *opcua.PublishNotificationData, timeout time.Duration, each func(*ua.MonitoredItemNotification), stop func() bool) {
	t.Helper()
	deadline := time.After(timeout)
	for !stop() {
		select {
		case <-deadline:
			return
		case msg := <-ch:
			if msg.Error != nil {
				t.Fatalf("subscription error: %v", msg.Error)
			}
			if dcn, ok := msg.Value.(*ua.DataChangeNotification); ok {
				for _, it := range dcn.MonitoredItems {
					each(it)
				}
			}
		}
	}
}

func TestSubscriptionSeesEveryChangeWithIncreasingTimestamps(t *testing.T) {
	sim := startSim(t, plantsim.Options{Tick: 50 * time.Millisecond})
	c := connect(t, sim)
	points := []string{"T101.LT", "T101.TT", "R201.TT", "R201.PT", "GT101", "AT201"}
	var nodes []*ua.NodeID
	for _, p := range points {
		nodes = append(nodes, resolve(t, c, spec(t, sim, p).Node))
	}
	ch := subscribe(t, c, 50*time.Millisecond, nodes...)

	last := make(map[uint32]*ua.DataValue)
	counts := make(map[uint32]int)
	const want = 10
	collect(t, ch, 10*time.Second, func(it *ua.MonitoredItemNotification) {
		h := it.ClientHandle
		dv := it.Value
		if dv.Status != ua.StatusOK {
			t.Errorf("%s: status %v", points[h-1], dv.Status)
		}
		if prev := last[h]; prev != nil {
			if !dv.SourceTimestamp.After(prev.SourceTimestamp) {
				t.Errorf("%s: source timestamp %v not after %v", points[h-1], dv.SourceTimestamp, prev.SourceTimestamp)
			}
			if dv.Value.Value() == prev.Value.Value() {
				t.Errorf("%s: value %v repeated", points[h-1], dv.Value.Value())
			}
		}
		last[h] = dv
		counts[h]++
	}, func() bool {
		for h := range points {
			if counts[uint32(h+1)] < want {
				return false
			}
		}
		return true
	})
	for h, p := range points {
		if n := counts[uint32(h+1)]; n < want {
			t.Errorf("%s: %d changes received, want >= %d", p, n, want)
		}
	}
	if sim.Changes() == 0 {
		t.Error("Changes() = 0")
	}
}

func TestLoadPointsAllChange(t *testing.T) {
	const n = 200
	sim := startSim(t, plantsim.Options{Points: n, Rate: 5})
	c := connect(t, sim)
	var nodes []*ua.NodeID
	for _, p := range sim.Catalog() {
		if strings.HasPrefix(p.ID, "LOAD.") {
			nodes = append(nodes, resolve(t, c, p.Node))
		}
	}
	if len(nodes) != n {
		t.Fatalf("%d load points in the catalog, want %d", len(nodes), n)
	}
	ch := subscribe(t, c, 100*time.Millisecond, nodes...)
	first := make(map[uint32]time.Time)
	seen := make(map[uint32]int)
	collect(t, ch, 10*time.Second, func(it *ua.MonitoredItemNotification) {
		if it.Value.Status != ua.StatusOK {
			t.Errorf("handle %d: status %v", it.ClientHandle, it.Value.Status)
		}
		if ts := it.Value.SourceTimestamp; seen[it.ClientHandle] == 0 {
			first[it.ClientHandle] = ts
		}
		seen[it.ClientHandle]++
	}, func() bool {
		if len(seen) < n {
			return false
		}
		for _, k := range seen {
			if k < 3 { // the initial value plus changes
				return false
			}
		}
		return true
	})
	for h := uint32(1); h <= n; h++ {
		if seen[h] < 3 {
			t.Errorf("load point %d: %d notifications, want >= 3", h, seen[h])
		}
	}
	if d := sim.Dropped(); d != 0 {
		t.Logf("dropped notifications: %d", d)
	}
}

func TestSetBad(t *testing.T) {
	sim := startSim(t, plantsim.Options{Tick: 50 * time.Millisecond})
	c := connect(t, sim)
	id := resolve(t, c, spec(t, sim, "T103.LT").Node)
	ch := subscribe(t, c, 50*time.Millisecond, id)

	if err := sim.SetBad("NOPE", true); err == nil {
		t.Fatal("SetBad of an unknown point: no error")
	}
	if err := sim.SetBad("T103.LT", true); err != nil {
		t.Fatal(err)
	}
	if dv := read(t, c, ua.AttributeIDValue, id)[0]; dv.Status != ua.StatusBadSensorFailure {
		t.Fatalf("read while bad: status %v, want BadSensorFailure", dv.Status)
	}
	var sawBad, sawGoodAfter bool
	collect(t, ch, 5*time.Second, func(it *ua.MonitoredItemNotification) {
		if it.Value.Status == ua.StatusBadSensorFailure {
			sawBad = true
		}
	}, func() bool { return sawBad })
	if !sawBad {
		t.Fatal("subscription never saw the bad status")
	}
	if err := sim.SetBad("T103.LT", false); err != nil {
		t.Fatal(err)
	}
	collect(t, ch, 5*time.Second, func(it *ua.MonitoredItemNotification) {
		if it.Value.Status == ua.StatusOK {
			sawGoodAfter = true
		}
	}, func() bool { return sawGoodAfter })
	if !sawGoodAfter {
		t.Fatal("subscription never saw the point recover")
	}
	if dv := read(t, c, ua.AttributeIDValue, id)[0]; dv.Status != ua.StatusOK {
		t.Fatalf("read after recovery: status %v", dv.Status)
	}
}

func TestForcedExcursionCrossesAlarmLimits(t *testing.T) {
	sim := startSim(t, plantsim.Options{Tick: 20 * time.Millisecond, ExcursionsPerHour: -1})
	c := connect(t, sim)
	tests := []struct {
		point string
		limit func(*config.Limits) float64
	}{
		{"GT102", func(l *config.Limits) float64 { return *l.Stage1 }},
		{"AT201", func(l *config.Limits) float64 { return *l.Stage1 }},
		{"R201.TT", func(l *config.Limits) float64 { return *l.High }},
	}
	var nodes []*ua.NodeID
	for _, tt := range tests {
		nodes = append(nodes, resolve(t, c, spec(t, sim, tt.point).Node))
	}
	ch := subscribe(t, c, 20*time.Millisecond, nodes...)
	for _, tt := range tests {
		if err := sim.ForceExcursion(tt.point); err != nil {
			t.Fatal(err)
		}
	}
	if err := sim.ForceExcursion("T101.PUMP"); err == nil {
		t.Fatal("ForceExcursion of a switch: no error")
	}
	crossed := make(map[uint32]bool)
	collect(t, ch, 10*time.Second, func(it *ua.MonitoredItemNotification) {
		tt := tests[it.ClientHandle-1]
		if v, ok := it.Value.Value.Value().(float64); ok && v > tt.limit(spec(t, sim, tt.point).Limits) {
			crossed[it.ClientHandle] = true
		}
	}, func() bool { return len(crossed) == len(tests) })
	for i, tt := range tests {
		if !crossed[uint32(i+1)] {
			t.Errorf("%s never crossed its limit", tt.point)
		}
	}
}
