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

// The sim states the MaxNodesPerRead it is given, and gopcua's 32 without.
func TestMaxNodesPerReadStated(t *testing.T) {
	limit := ua.NewNumericNodeID(0, id.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead)
	for _, tc := range []struct {
		set  int
		want uint32
	}{{0, 32}, {1000, 1000}} {
		sim := startSim(t, plantsim.Options{Points: 1, ExcursionsPerHour: -1, MaxNodesPerRead: tc.set})
		dv := read(t, connect(t, sim), ua.AttributeIDValue, limit)[0]
		if got, ok := dv.Value.Value().(uint32); !ok || got != tc.want {
			t.Errorf("MaxNodesPerRead %d: server states %v (%T), want %d", tc.set, dv.Value.Value(), dv.Value.Value(), tc.want)
		}
	}
}
