package plantsim_test

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
	"go.uber.org/goleak"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// startSim starts a simulator on a free loopback port and shuts it down
// when the test ends.
func startSim(t *testing.T, opts plantsim.Options) *plantsim.Sim {
	t.Helper()
	opts.Addr = "127.0.0.1:0"
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	sim := plantsim.New(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sim.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := sim.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return sim
}

// connect opens a client session to the simulator, closed when the test
// ends (before the simulator shuts down).
func connect(t *testing.T, sim *plantsim.Sim) *opcua.Client {
	t.Helper()
	// Bounds are generous: under -race beside other test binaries on two
	// cores the server's first handshake can take seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := opcua.NewClient(sim.Endpoint(), opcua.SecurityMode(ua.MessageSecurityModeNone), opcua.AutoReconnect(false),
		opcua.DialTimeout(30*time.Second))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("Connect %s: %v", sim.Endpoint(), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

// resolve turns a node ID written with its namespace URI into a node ID
// with the server's current namespace index.
func resolve(t *testing.T, c *opcua.Client, node string) *ua.NodeID {
	t.Helper()
	id, err := ua.ParseExpandedNodeID(node, c.Namespaces())
	if err != nil {
		t.Fatalf("resolve %s: %v", node, err)
	}
	return id.NodeID
}

func spec(t *testing.T, sim *plantsim.Sim, pointID string) plantsim.PointSpec {
	t.Helper()
	for _, p := range sim.Catalog() {
		if p.ID == pointID {
			return p
		}
	}
	t.Fatalf("no point %s in the catalog", pointID)
	return plantsim.PointSpec{}
}

func read(t *testing.T, c *opcua.Client, attr ua.AttributeID, ids ...*ua.NodeID) []*ua.DataValue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth}
	for _, id := range ids {
		req.NodesToRead = append(req.NodesToRead, &ua.ReadValueID{NodeID: id, AttributeID: attr})
	}
	res, err := c.Read(ctx, req)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if len(res.Results) != len(ids) {
		t.Fatalf("read %d nodes, got %d results", len(ids), len(res.Results))
	}
	return res.Results
}

func TestReadValues(t *testing.T) {
	sim := startSim(t, plantsim.Options{ExcursionsPerHour: -1})
	c := connect(t, sim)
	if strings.HasSuffix(sim.Endpoint(), ":0") || !strings.HasPrefix(sim.Endpoint(), "opc.tcp://127.0.0.1:") {
		t.Fatalf("Endpoint() = %s, want opc.tcp://127.0.0.1:<bound port>", sim.Endpoint())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nsa, err := c.NamespaceArray(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.Index(nsa, "urn:lifeline:plantsim"); i != 1 {
		t.Fatalf("namespace array %q: want urn:lifeline:plantsim at index 1", nsa)
	}

	tests := []struct {
		point string
		check func(v any) bool
	}{
		{"T101.LT", func(v any) bool { x, ok := v.(float64); return ok && x >= 0 && x <= 20 }},
		{"T101.TT", func(v any) bool { x, ok := v.(float64); return ok && x > -20 && x < 60 }},
		{"T101.PUMP", func(v any) bool { _, ok := v.(bool); return ok }},
		{"R201.AGIT", func(v any) bool { _, ok := v.(bool); return ok }},
		{"R201.BATCH", func(v any) bool {
			s, ok := v.(string)
			return ok && strings.HasPrefix(s, "B") && len(s) == len("B20250101-001")
		}},
		{"R201.PHASE", func(v any) bool { s, ok := v.(string); return ok && s == "投料" }},
		{"GT101", func(v any) bool { x, ok := v.(float64); return ok && x >= 0 && x < 25 }},
	}
	for _, tt := range tests {
		t.Run(tt.point, func(t *testing.T) {
			p := spec(t, sim, tt.point)
			if !strings.HasPrefix(p.Node, "nsu=urn:lifeline:plantsim;s=") {
				t.Fatalf("node %s: want nsu=urn:lifeline:plantsim;s=…", p.Node)
			}
			dv := read(t, c, ua.AttributeIDValue, resolve(t, c, p.Node))[0]
			if dv.Status != ua.StatusOK {
				t.Fatalf("status %v", dv.Status)
			}
			if dv.Value == nil || !tt.check(dv.Value.Value()) {
				t.Fatalf("value %#v (%T) is implausible", dv.Value.Value(), dv.Value.Value())
			}
			if age := time.Since(dv.SourceTimestamp); dv.SourceTimestamp.IsZero() || age < 0 || age > time.Minute {
				t.Fatalf("source timestamp %v", dv.SourceTimestamp)
			}
		})
	}
}

func TestExtraNamespacesShiftIndex(t *testing.T) {
	sim := startSim(t, plantsim.Options{
		NamespaceURI:    "urn:test:plant",
		ExtraNamespaces: []string{"urn:test:first", "urn:test:second"},
	})
	c := connect(t, sim)
	ns := c.Namespaces()
	if i := slices.Index(ns, "urn:test:plant"); i != 3 {
		t.Fatalf("namespaces %q: want urn:test:plant at index 3", ns)
	}
	p := spec(t, sim, "T102.LT")
	if p.Node != "nsu=urn:test:plant;s=TankFarm.T102.Level" {
		t.Fatalf("node %s", p.Node)
	}
	id := resolve(t, c, p.Node)
	if id.Namespace() != 3 {
		t.Fatalf("resolved %s: want namespace index 3", id)
	}
	if dv := read(t, c, ua.AttributeIDValue, id)[0]; dv.Status != ua.StatusOK {
		t.Fatalf("status %v", dv.Status)
	}
	// the same identifier in the wrong namespace is unknown
	if dv := read(t, c, ua.AttributeIDValue, ua.NewStringNodeID(1, "TankFarm.T102.Level"))[0]; dv.Status != ua.StatusBadNodeIDUnknown {
		t.Fatalf("status in namespace 1: %v, want BadNodeIdUnknown", dv.Status)
	}
}

// With DecoyValues the extra namespaces answer for the plant's
// identifiers with values no plant point has.
func TestDecoyValues(t *testing.T) {
	sim := startSim(t, plantsim.Options{ExtraNamespaces: []string{"urn:test:first"}, DecoyValues: true})
	c := connect(t, sim)
	p := spec(t, sim, "T102.LT")
	dv := read(t, c, ua.AttributeIDValue, ua.NewStringNodeID(1, p.Identifier), resolve(t, c, p.Node))
	if got := dv[0].Value.Value(); got != plantsim.DecoyNumber {
		t.Fatalf("decoy in namespace 1: %v, want %v", got, plantsim.DecoyNumber)
	}
	if got := dv[1].Value.Value(); got == plantsim.DecoyNumber {
		t.Fatalf("the plant's own node reads the decoy value")
	}
}

func TestChineseTextRoundTrips(t *testing.T) {
	sim := startSim(t, plantsim.Options{})
	c := connect(t, sim)
	var ids []*ua.NodeID
	cat := sim.Catalog()
	for _, p := range cat {
		ids = append(ids, resolve(t, c, p.Node))
	}
	names := read(t, c, ua.AttributeIDDisplayName, ids...)
	descs := read(t, c, ua.AttributeIDDescription, ids...)
	for i, p := range cat {
		name, ok := names[i].Value.Value().(*ua.LocalizedText)
		if !ok || name.Text != p.Name || name.Locale != "zh-CN" {
			t.Errorf("%s: display name %#v, want %q (zh-CN)", p.ID, names[i].Value.Value(), p.Name)
		}
		desc, ok := descs[i].Value.Value().(*ua.LocalizedText)
		if !ok || desc.Text != p.Description {
			t.Errorf("%s: description %#v, want %q", p.ID, descs[i].Value.Value(), p.Description)
		}
	}
}

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

func TestAgentConfigValidAndLive(t *testing.T) {
	sim := startSim(t, plantsim.Options{Points: 20})
	cfg := sim.AgentConfig("127.0.0.1:7400", t.TempDir(), "DEMO-01")
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	// the YAML form loads back to the same configuration
	data, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := config.Parse(data)
	if err != nil {
		t.Fatalf("Parse of the marshalled config: %v\n%s", err, data)
	}
	if len(back.Sources) != 1 || len(back.Sources[0].Points) != len(sim.Catalog()) {
		t.Fatalf("parsed config has %d sources", len(back.Sources))
	}
	if back.Sources[0].Endpoint != sim.Endpoint() || back.Site.Name != "示例化工有限公司" || !back.Aggregator.TLS.Insecure {
		t.Fatalf("parsed config: %+v", back)
	}
	if !strings.Contains(string(data), "甲醇储罐区") {
		t.Fatal("marshalled config lost the Chinese hazard source name")
	}

	c := connect(t, sim)
	var ids []*ua.NodeID
	var pts []config.Point
	for _, p := range back.Sources[0].Points {
		if !strings.HasPrefix(p.Node, "nsu=") {
			t.Errorf("%s: node %s is not written with nsu=", p.ID, p.Node)
		}
		ids = append(ids, resolve(t, c, p.Node))
		pts = append(pts, p)
	}
	// gopcua's server advertises MaxNodesPerRead 32
	for i := 0; i < len(ids); i += 32 {
		end := min(i+32, len(ids))
		for j, dv := range read(t, c, ua.AttributeIDValue, ids[i:end]...) {
			if dv.Status != ua.StatusOK || dv.Value == nil {
				t.Errorf("%s (%s): status %v", pts[i+j].ID, pts[i+j].Node, dv.Status)
			}
		}
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
