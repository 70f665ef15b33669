package plantsim_test

import (
	"context"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
	"go.uber.org/goleak"

	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
)

func TestShutdown(t *testing.T) {
	t.Run("without start", func(t *testing.T) {
		sim := plantsim.New(plantsim.Options{})
		if err := sim.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := sim.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := sim.Start(context.Background()); err == nil {
			t.Fatal("Start after Shutdown: no error")
		}
	})
	t.Run("with a live subscription", func(t *testing.T) {
		sim := plantsim.New(plantsim.Options{Addr: "127.0.0.1:0", Tick: 20 * time.Millisecond, Points: 100, Rate: 20, Logger: testLogger(t)})
		// Generous: under -race on a loaded machine the server's first
		// handshake can take seconds; the bound that matters is Shutdown's.
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := sim.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := sim.Start(ctx); err == nil {
			t.Fatal("second Start: no error")
		}
		c, err := opcua.NewClient(sim.Endpoint(), opcua.SecurityMode(ua.MessageSecurityModeNone), opcua.AutoReconnect(false),
			opcua.DialTimeout(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		ch := make(chan *opcua.PublishNotificationData, 16)
		sub, err := c.Subscribe(ctx, &opcua.SubscriptionParameters{Interval: 20 * time.Millisecond}, ch)
		if err != nil {
			t.Fatal(err)
		}
		var reqs []*ua.MonitoredItemCreateRequest
		for i, p := range sim.Catalog() {
			id, err := ua.ParseExpandedNodeID(p.Node, c.Namespaces())
			if err != nil {
				t.Fatal(err)
			}
			reqs = append(reqs, opcua.NewMonitoredItemCreateRequestWithDefaults(id.NodeID, ua.AttributeIDValue, uint32(i+1)))
		}
		if _, err := sub.Monitor(ctx, ua.TimestampsToReturnBoth, reqs...); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatal("no notification")
		}
		// The server goes away under a client that still subscribes and
		// does not read its notifications.
		start := time.Now()
		if err := sim.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Shutdown took %v", d)
		}
		if err := sim.Shutdown(ctx); err != nil {
			t.Fatalf("second Shutdown: %v", err)
		}
		c.Close(ctx)
		goleak.VerifyNone(t)
	})
}

func TestDropConnectionsUnderLoad(t *testing.T) {
	sim := startSim(t, plantsim.Options{Points: 2000, Rate: 20, Tick: 20 * time.Millisecond})
	// A client subscribed to everything that vanishes without closing its
	// session, as an agent killed with SIGKILL would.
	c := connect(t, sim)
	var nodes []*ua.NodeID
	for _, p := range sim.Catalog() {
		nodes = append(nodes, resolve(t, c, p.Node))
	}
	ch := subscribe(t, c, 50*time.Millisecond, nodes...)
	got := 0
	collect(t, ch, 5*time.Second, func(*ua.MonitoredItemNotification) { got++ }, func() bool { return got >= 1000 })
	if got < 1000 {
		t.Fatalf("%d notifications before the drop", got)
	}
	sim.DropConnections()

	// The model keeps running: it must not block on the dead subscription.
	before := sim.Changes()
	deadline := time.Now().Add(5 * time.Second)
	for sim.Changes() < before+40000 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := sim.Changes() - before; n < 40000 {
		t.Fatalf("only %d changes in the 5 s after the drop", n)
	}

	// A new client connects and reads.
	c2 := connect(t, sim)
	id := resolve(t, c2, spec(t, sim, "T101.LT").Node)
	if dv := read(t, c2, ua.AttributeIDValue, id)[0]; dv.Status != ua.StatusOK {
		t.Fatalf("read after the drop: %v", dv.Status)
	}
}

func TestStatesMaxItemsPerSubscription(t *testing.T) {
	sim := startSim(t, plantsim.Options{ExcursionsPerHour: -1, MaxItemsPerSubscription: 2500})
	c := connect(t, sim)
	dv := read(t, c, ua.AttributeIDValue, ua.NewNumericNodeID(0, id.Server_ServerCapabilities_MaxMonitoredItemsPerSubscription))[0]
	if dv.Status != ua.StatusOK || dv.Value == nil || dv.Value.Value() != uint32(2500) {
		t.Fatalf("MaxMonitoredItemsPerSubscription = %+v, want 2500", dv)
	}
}
