package opcua

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

func loadPoint(id string, n int) config.Point {
	return config.Point{ID: id, Node: fmt.Sprintf("nsu=urn:lifeline:plantsim;s=Load.P%05d", n)}
}

// itemsByNode maps the simulator's monitored items to their node's Load
// identifier.
func itemsByNode(sim *plantsim.Sim) map[string]plantsim.MonitoredItem {
	out := map[string]plantsim.MonitoredItem{}
	for _, it := range sim.MonitoredItems() {
		_, name, _ := strings.Cut(it.Node, "s=")
		out[name] = it
	}
	return out
}

// An update adds, removes and changes points on a running reader: the
// session and the subscription stay, the server keeps the very same
// monitored items for the unchanged points (same item and subscription
// IDs), none of them re-sends an initial value, new points are read from
// their first value on, and removed points stop.
func TestUpdateKeepsUnchangedItems(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plantsim.Options{Addr: "127.0.0.1:0", Points: 40, Rate: 5})
	src := loadSource(sim.Endpoint(), 30)
	rec := &recorder{}
	r := New(src, rec, testLogger(t))
	r.monitorPause = 0
	running(t, r)
	waitFor(t, "two samples of every point", 15*time.Second, func() bool {
		got := rec.samples(time.Time{})
		for _, p := range src.Points {
			if len(got[p.ID]) < 2 {
				return false
			}
		}
		return true
	})
	before, itemsBefore := r.Stats(), itemsByNode(sim)

	next := src
	next.Points = slices.Clone(src.Points[5:]) // L00001–L00005 go
	for n := 31; n <= 35; n++ {
		next.Points = append(next.Points, loadPoint(fmt.Sprintf("L%05d", n), n))
	}
	next.Points[0].SamplingInterval = config.Duration(200 * time.Millisecond) // L00006: new parameters
	next.Points[1].Node = loadPoint("", 40).Node                              // L00007: another node
	next.Points[2].Name = "renamed"                                           // L00008: described differently only
	updated := time.Now()
	gen, err := r.Update(next)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the update to apply", 10*time.Second, func() bool { return r.Stats().Applied >= gen })
	applied := time.Now()
	added := []string{"L00031", "L00032", "L00033", "L00034", "L00035"}
	waitFor(t, "samples of the new points", 10*time.Second, func() bool {
		got := rec.samples(applied)
		for _, id := range append(added, "L00006", "L00007") {
			if len(got[id]) < 2 {
				return false
			}
		}
		return true
	})
	waitFor(t, "the removed items to leave the server", 5*time.Second, func() bool {
		_, ok := itemsByNode(sim)["Load.P00001"]
		return !ok
	})
	time.Sleep(time.Second)

	after := r.Stats()
	if after.Sessions != before.Sessions || after.SubscriptionsCreated != before.SubscriptionsCreated || after.Reconnects != before.Reconnects {
		t.Errorf("sessions %d→%d, subscriptions created %d→%d, reconnects %d→%d: the update restarted the session",
			before.Sessions, after.Sessions, before.SubscriptionsCreated, after.SubscriptionsCreated, before.Reconnects, after.Reconnects)
	}
	// 5 new points, L00006 replaced (gopcua's server cannot modify items)
	// and L00007 on its new node; 5 removed and those two replaced.
	if d := after.ItemsCreated - before.ItemsCreated; d != 7 {
		t.Errorf("%d items created by the update, want 7", d)
	}
	if d := after.ItemsDeleted - before.ItemsDeleted; d != 7 {
		t.Errorf("%d items deleted by the update, want 7", d)
	}
	if after.Monitored != 30 {
		t.Errorf("%d items monitored, want 30", after.Monitored)
	}
	checkItemsKept(t, itemsBefore, itemsByNode(sim))

	checkSamplesAfterUpdate(t, rec.samples(updated), added, applied)
	checkContinuous(t, rec.samples(time.Time{}), 8, 30)
	var ids []string
	for _, st := range r.PointStates() {
		ids = append(ids, st.PointID)
	}
	if len(ids) != 30 || slices.Contains(ids, "L00001") || !slices.Contains(ids, "L00035") {
		t.Errorf("point states after the update: %v", ids)
	}
}

// checkSamplesAfterUpdate checks what was read since the update was
// handed over (got) and applied: unchanged points (L00008–L00030) sent no
// initial value again, the added points and the replaced items L00006 and
// L00007 did, and the removed points (L00001–L00005) stopped.
func checkSamplesAfterUpdate(t *testing.T, got map[string][]*lifelinev1.Sample, added []string, applied time.Time) {
	t.Helper()
	for n := 8; n <= 30; n++ {
		id := fmt.Sprintf("L%05d", n)
		if len(got[id]) == 0 {
			t.Errorf("%s: no samples after the update", id)
		}
		for _, s := range got[id] {
			if s.Initial {
				t.Errorf("%s: initial value sent again after the update: its item was re-created", id)
			}
		}
	}
	for _, id := range added {
		if !got[id][0].Initial {
			t.Errorf("%s: first sample after the update is not its item's initial value", id)
		}
	}
	for _, id := range []string{"L00006", "L00007"} { // replaced items
		if !slices.ContainsFunc(got[id], func(s *lifelinev1.Sample) bool { return s.Initial }) {
			t.Errorf("%s: no initial value from its new item", id)
		}
	}
	settled := applied.Add(500 * time.Millisecond)
	for n := 1; n <= 5; n++ {
		id := fmt.Sprintf("L%05d", n)
		for _, s := range got[id] {
			if s.ReceiveTimeNs > settled.UnixNano() {
				t.Errorf("%s: removed point still delivered at %s", id, time.Unix(0, s.ReceiveTimeNs))
			}
		}
	}
}

// checkItemsKept compares the server's items before and after the update:
// the unchanged points' (L00008–L00030) are the very same, the removed
// points' (L00001–L00005) are gone.
func checkItemsKept(t *testing.T, before, after map[string]plantsim.MonitoredItem) {
	t.Helper()
	for n := 8; n <= 30; n++ {
		node := fmt.Sprintf("Load.P%05d", n)
		if b, a := before[node], after[node]; b != a {
			t.Errorf("%s: item %+v before the update, %+v after: an unchanged point's item was replaced", node, b, a)
		}
	}
	for n := 1; n <= 5; n++ {
		if it, ok := after[fmt.Sprintf("Load.P%05d", n)]; ok {
			t.Errorf("removed point's item %+v still on the server", it)
		}
	}
}

// checkContinuous fails when a load point's samples (L<from>…L<to>) skip
// or repeat a source time: the simulator changes each at a fixed rate, so
// a gap longer than a second means values were lost. The initial value is
// left out: it may date from before the simulator's load started.
func checkContinuous(t *testing.T, got map[string][]*lifelinev1.Sample, from, to int) {
	t.Helper()
	for n := from; n <= to; n++ {
		id := fmt.Sprintf("L%05d", n)
		ss := got[id]
		for i := 2; i < len(ss); i++ {
			prev, cur := ss[i-1].SourceTimeNs, ss[i].SourceTimeNs
			if cur <= prev {
				t.Errorf("%s: source time %d after %d", id, cur, prev)
			}
			if gap := time.Duration(cur - prev); gap > time.Second {
				t.Errorf("%s: %s without a sample", id, gap)
			}
		}
	}
}

// An update that needs a new session is refused, and the reader keeps its
// configuration.
func TestUpdateRefusesSessionChanges(t *testing.T) {
	src := loadSource("opc.tcp://127.0.0.1:4840", 2)
	r := New(src, &counter{}, nil)
	next := src
	next.Endpoint = "opc.tcp://127.0.0.1:4841"
	next.PublishingInterval = config.Duration(time.Second)
	_, err := r.Update(next)
	if err == nil || !strings.Contains(err.Error(), "endpoint, publishing_interval") {
		t.Fatalf("Update with a new endpoint: %v", err)
	}
	next = src
	next.SamplingInterval = config.Duration(time.Second)
	next.QueueSize = 5
	if changed := SessionChanges(src, next); len(changed) != 0 {
		t.Fatalf("sampling interval and queue size reported as session changes: %v", changed)
	}
}

// In poll mode an update changes the points read from the next cycle on,
// on the same session.
func TestUpdatePollMode(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plantsim.Options{Addr: "127.0.0.1:0", Points: 10, Rate: 5})
	src := loadSource(sim.Endpoint(), 5)
	src.ReadMode, src.PollInterval = "poll", config.Duration(100*time.Millisecond)
	rec := &recorder{}
	r := New(src, rec, testLogger(t))
	running(t, r)
	waitFor(t, "polled samples", 10*time.Second, func() bool { return len(rec.samples(time.Time{})["L00005"]) >= 2 })
	before := r.Stats()

	next := src
	next.Points = append(slices.Clone(src.Points[1:]), loadPoint("L00009", 9))
	gen, err := r.Update(next)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the update to apply", 5*time.Second, func() bool { return r.Stats().Applied >= gen })
	applied := time.Now()
	settled := applied.Add(300 * time.Millisecond)
	waitFor(t, "samples of the new point and an unchanged one", 5*time.Second, func() bool {
		got := rec.samples(settled)
		return len(got["L00009"]) >= 2 && len(got["L00002"]) >= 2
	})
	if n := len(rec.samples(settled)["L00001"]); n != 0 {
		t.Errorf("removed point still polled: %d samples", n)
	}
	if after := r.Stats(); after.Sessions != before.Sessions || after.Reconnects != before.Reconnects {
		t.Errorf("sessions %d→%d, reconnects %d→%d", before.Sessions, after.Sessions, before.Reconnects, after.Reconnects)
	}
}

// New points that do not fit the server's per-subscription limit go into
// a new subscription, which delivers beside the existing ones.
func TestUpdateAddsSubscription(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plantsim.Options{Addr: "127.0.0.1:0", Points: 30, Rate: 5, MaxItemsPerSubscription: 10})
	src := loadSource(sim.Endpoint(), 20)
	rec := &recorder{}
	r := New(src, rec, testLogger(t))
	r.monitorPause = 0
	running(t, r)
	waitFor(t, "samples of the last point", 10*time.Second, func() bool { return len(rec.samples(time.Time{})["L00020"]) >= 2 })
	before := r.Stats()

	next := src
	next.Points = slices.Clone(src.Points)
	for n := 21; n <= 25; n++ {
		next.Points = append(next.Points, loadPoint(fmt.Sprintf("L%05d", n), n))
	}
	gen, err := r.Update(next)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the update to apply", 5*time.Second, func() bool { return r.Stats().Applied >= gen })
	applied := time.Now()
	waitFor(t, "samples of the new points", 10*time.Second, func() bool {
		got := rec.samples(applied)
		return len(got["L00021"]) >= 3 && len(got["L00025"]) >= 3 && len(got["L00001"]) >= 3
	})
	after := r.Stats()
	if after.Sessions != before.Sessions || after.SubscriptionsCreated != before.SubscriptionsCreated+1 || after.Monitored != 25 {
		t.Errorf("sessions %d→%d, subscriptions created %d→%d, monitored %d: want the same session, one more subscription, 25 items",
			before.Sessions, after.Sessions, before.SubscriptionsCreated, after.SubscriptionsCreated, after.Monitored)
	}
}
