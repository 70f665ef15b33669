package opcua

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// Polling node-opcua, which refuses Reads of more nodes than its
// MaxNodesPerRead (2 here, so seven points take four Reads a poll, and
// the four server properties the session reads first no longer fit one
// Read either): every
// point is delivered with its own value, status and timestamps, a steady
// value once, and each change of the counter in order.
func TestNodeOPCUAPoll(t *testing.T) {
	t.Parallel()
	ns := startNodeServerEnv(t, []string{"LIFELINE_MAX_NODES_PER_READ=2"})
	src := nodeSource(ns.endpoint)
	src.Points = append(src.Points,
		config.Point{ID: "COUNTER", Node: "nsu=" + nodeNS + ";s=Plant.Counter"},
		config.Point{ID: "STEADY", Node: "nsu=" + nodeNS + ";s=Plant.Steady"})
	src.ReadMode, src.PollInterval = "poll", config.Duration(50*time.Millisecond)
	rec := &recorder{}
	r := New(src, rec, testLogger(t))
	stop := running(t, r)
	waitFor(t, "ten counter values polled from node-opcua", 30*time.Second, func() bool {
		return len(rec.samples(time.Time{})["COUNTER"]) >= 10
	})
	stop()
	got := rec.samples(time.Time{})

	var prevValue float64
	var prevSource int64
	for k, s := range got["COUNTER"] {
		if s.Status != 0 || s.ServerTimeNs == 0 || s.SourceTimeNs <= prevSource || s.Initial != (k == 0) {
			t.Errorf("counter sample %d: status %#x source %d (previous %d) server %d initial %v", k, s.Status, s.SourceTimeNs, prevSource, s.ServerTimeNs, s.Initial)
		}
		if v := s.GetNumber(); k > 0 && v <= prevValue {
			t.Errorf("counter sample %d: value %g after %g", k, v, prevValue)
		}
		prevValue, prevSource = s.GetNumber(), s.SourceTimeNs
	}
	if st := got["STEADY"]; len(st) != 1 || st[0].GetNumber() != 42 || st[0].Status != 0 || !st[0].Initial || st[0].SourceTimeNs == 0 {
		t.Errorf("steady samples %v, want one: 42, Good, initial", st)
	}
	for _, s := range got["T1.LT"] {
		if v := s.GetNumber(); s.Status != 0 || v < 5 || v > 15 {
			t.Errorf("level sample: status %#x value %g", s.Status, v)
		}
	}
	if n := got["T1.NAME"]; len(n) != 1 || n[0].GetText() != "1号甲醇储罐" {
		t.Errorf("name samples %v, want the Chinese text once", n)
	}
	if b := got["BROKEN"]; len(b) == 0 || b[0].Status != uint32(ua.StatusBadSensorFailure) {
		t.Errorf("BROKEN samples %v, want its BadSensorFailure status carried", b)
	}
	// Without timestamps from the server each read is stamped with its
	// receive time, so it is new at every poll.
	if m := got["MISSING"]; len(m) == 0 || m[0].Status != uint32(ua.StatusBadNodeIDUnknown) || m[0].Value != nil {
		t.Errorf("MISSING samples %v, want BadNodeIdUnknown without a value", m)
	}
	if _, ok := got["T1.LAHH"]; !ok {
		t.Error("no sample of T1.LAHH")
	}
}

// A prepared Read allocates less than Client.Read of the same nodes, which
// copies the request and every ReadValueID to fill in defaults on each
// call (two allocations a node): at least one allocation fewer a node.
func TestReadPreparedAllocations(t *testing.T) {
	ts := startServer(t, serverOptions{})
	ctx := context.Background()
	c, err := newClient(ctx, plantSource(ts.endpoint), callTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer closeClient(ctx, c)
	ids := make([]*ua.NodeID, maxNodesPerRead)
	for i := range ids {
		ids[i] = ts.ids[plantVars[i%len(plantVars)].name]
	}
	p := newPolled(ids, maxNodesPerRead)
	if len(p.reqs) != 1 {
		t.Fatalf("%d requests for %d nodes, want 1", len(p.reqs), len(ids))
	}
	plain := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth}
	for _, id := range ids {
		plain.NodesToRead = append(plain.NodesToRead, &ua.ReadValueID{NodeID: id, AttributeID: ua.AttributeIDValue})
	}
	check := func(res *ua.ReadResponse, err error) {
		t.Helper()
		if err != nil || len(res.Results) != len(ids) {
			t.Fatalf("read: %v", err)
		}
		for i, dv := range res.Results {
			if dv.Status != ua.StatusOK || dv.Value == nil {
				t.Fatalf("node %s: status %v", ids[i], dv.Status)
			}
		}
	}
	check(readPrepared(ctx, c, p.reqs[0]))
	check(c.Read(ctx, plain))
	prepared := mallocs(func() { readPrepared(ctx, c, p.reqs[0]) })
	read := mallocs(func() { c.Read(ctx, plain) })
	if prepared > read-float64(len(ids)) {
		t.Errorf("%.0f allocations per prepared Read of %d nodes, %.0f per Client.Read: want at least %d fewer", prepared, len(ids), read, len(ids))
	}
	t.Logf("allocations per Read of %d nodes: prepared %.0f, Client.Read %.0f", len(ids), prepared, read)
}

// mallocs is the mean number of heap allocations of f over 50 runs,
// counted process-wide: the client's and the in-process server's
// goroutines too, the same for every f.
func mallocs(f func()) float64 {
	const runs = 50
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / runs
}
