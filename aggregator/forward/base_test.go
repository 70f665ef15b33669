package forward_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/forward"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Base data goes once, again when a limit changes, and not again after a
// restart while it is unchanged and base_every has not passed.
func TestBaseDataSentOnChangeNotOnRestart(t *testing.T) {
	st := storetest.Open(t)
	seedRegistry(t, st)
	rcv := newReceiver(t, nil)
	tg := rcv.target(t, t.TempDir())
	tg.RefreshEvery = 300 * time.Millisecond
	bases := func() []map[string]any {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return append([]map[string]any(nil), rcv.bases...)
	}
	// The cursor (the hash of what was sent) is written once the platform
	// answered: a forwarder stopped between its message arriving and the
	// answer sends it again after a restart, as it must when it cannot
	// know. So the restart below waits for the cursor, not the message.
	baseHash := func() string {
		cs, err := st.ForwardCursors(context.Background(), tg.Name)
		if err != nil {
			t.Fatal(err)
		}
		return cs[forward.KindBase].Pending
	}
	stop := runForwarder(t, st, tg)
	waitFor(t, 20*time.Second, "base data", func() bool { return len(bases()) == 1 })
	var first string
	waitFor(t, 20*time.Second, "the base data's cursor", func() bool { first = baseHash(); return first != "" })

	if err := st.SaveCatalog(context.Background(), site, "park-1", "test", []*lifelinev1.Point{
		{Id: "T101.LT", Name: "储罐T101.LT", Unit: "m", Kind: "level", RangeLow: f(0), RangeHigh: f(20),
			Limits: &lifelinev1.Limits{High: f(14), HighHigh: f(17)}, NodeId: "nsu=urn:x;s=T101.LT", Endpoint: "opc.tcp://127.0.0.1:4840"},
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "base data after a limit changed", func() bool { return len(bases()) == 2 })
	waitFor(t, 20*time.Second, "the changed base data's cursor", func() bool { return baseHash() != first })
	var hh any
	for _, q := range bases()[1]["quotas"].([]any) {
		if q := q.(map[string]any); q["tagNo"] == "T101.LT" {
			hh = q["highHighLimit"]
		}
	}
	if hh != 17.0 {
		t.Errorf("T101.LT highHighLimit %v after the change, want 17", hh)
	}
	stop()

	stop = runForwarder(t, st, tg)
	time.Sleep(2 * time.Second)
	stop()
	if n := len(bases()); n != 2 {
		t.Errorf("%d base data messages after a restart with nothing changed, want 2", n)
	}
}

// seedSecondSite adds plant-b, a second site of the enterprise, reported
// after site (it sorts after it).
func seedSecondSite(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	const second = "plant-b"
	if err := st.SaveRegistry(ctx, []store.Enterprise{{SiteID: second, Name: "示例化工有限公司二厂", Park: "park-1"}}, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveForwardCodes(ctx, []store.ForwardCode{
		{Target: "province", Kind: forward.CodeEnterprise, LocalID: second, Code: entCode, Name: "示例化工有限公司二厂"}}); err != nil {
		t.Fatal(err)
	}
}

// A round of base data cut short, by a failed send or by a restart, goes
// on under the time and keys it began with: what the platform accepted
// comes again, if at all, under the key it could drop.
func TestBaseRoundGoesOnUnderItsKeys(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restart=%v", restart), func(t *testing.T) {
			st := storetest.Open(t)
			seedRegistry(t, st)
			seedSecondSite(t, st)
			rcv := newReceiver(t, nil)
			tg := rcv.target(t, t.TempDir())
			if !restart {
				rcv.failBase.Store(2)
			} else {
				// The platform goes away after the first site's message;
				// the forwarder stops and starts again a few seconds on.
				f := func() { rcv.mode.Store(unavailable) }
				rcv.acceptedBase.Store(&f)
			}
			stop := runForwarder(t, st, tg)
			if restart {
				waitFor(t, 20*time.Second, "the first site's base data", func() bool { return rcv.mode.Load() == unavailable })
				time.Sleep(1500 * time.Millisecond)
				stop()
				rcv.acceptedBase.Store(nil)
				rcv.mode.Store(up)
				stop = runForwarder(t, st, tg)
			}
			waitFor(t, 20*time.Second, "both sites' base data", func() bool {
				rcv.mu.Lock()
				defer rcv.mu.Unlock()
				names := map[any]bool{}
				for _, b := range rcv.bases {
					names[b["companyName"]] = true
				}
				return len(names) == 2
			})
			time.Sleep(2 * time.Second) // a site sent again would arrive meanwhile
			stop()
			rcv.mu.Lock()
			defer rcv.mu.Unlock()
			keys, times := map[any]bool{}, map[any]bool{}
			for _, b := range rcv.bases {
				keys[b["dataId"]], times[b["updateTime"]] = true, true
			}
			if len(keys) != 2 || len(times) != 1 || !restart && len(rcv.bases) != 2 {
				t.Errorf("%d base data messages, %d keys, %d times, want one key per site from one round:", len(rcv.bases), len(keys), len(times))
				for _, b := range rcv.bases {
					t.Logf("  %v %v %v", b["dataId"], b["companyName"], b["updateTime"])
				}
			}
		})
	}
}

// A round cut short leaves the platform with the new base data for some
// sites: when the registry goes back to what the last whole round sent,
// that is sent again, or those sites would keep data no longer true.
func TestBaseRoundCutShortThenUndone(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	seedRegistry(t, st)
	seedSecondSite(t, st)
	rcv := newReceiver(t, nil)
	tg := rcv.target(t, t.TempDir())
	tg.RefreshEvery = 300 * time.Millisecond
	highHigh := func() []any { // site's HH limit of T101.LT, per base message of site
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		var out []any
		for _, b := range rcv.bases {
			if b["companyName"] != "示例化工有限公司" {
				continue
			}
			for _, q := range b["quotas"].([]any) {
				if q := q.(map[string]any); q["tagNo"] == "T101.LT" {
					out = append(out, q["highHighLimit"])
				}
			}
		}
		return out
	}
	setHH := func(hh float64) {
		if err := st.SaveCatalog(ctx, site, "park-1", "test", []*lifelinev1.Point{
			{Id: "T101.LT", Name: "储罐T101.LT", Unit: "m", Kind: "level", RangeLow: f(0), RangeHigh: f(20),
				Limits: &lifelinev1.Limits{High: f(15), HighHigh: f(hh)}, HazardSource: &lifelinev1.HazardSource{Code: "MH-01", Name: "甲醇罐区", Level: 3},
				Equipment: "T101", NodeId: "nsu=urn:x;s=T101.LT", Endpoint: "opc.tcp://127.0.0.1:4840"},
		}); err != nil {
			t.Fatal(err)
		}
	}
	runForwarder(t, st, tg)
	waitFor(t, 20*time.Second, "the first round", func() bool { return len(highHigh()) == 1 })
	waitFor(t, 20*time.Second, "the first round's cursor", func() bool {
		cs, err := st.ForwardCursors(ctx, tg.Name)
		return err == nil && cs[forward.KindBase].Pending != ""
	})
	// The platform goes away after the changed site's message.
	f := func() { rcv.mode.Store(unavailable) }
	rcv.acceptedBase.Store(&f)
	setHH(17)
	waitFor(t, 20*time.Second, "the changed round's first message", func() bool { return len(highHigh()) == 2 })
	rcv.acceptedBase.Store(nil)
	setHH(18)
	time.Sleep(time.Second) // refreshed while the platform is away
	rcv.mode.Store(up)
	waitFor(t, 20*time.Second, "the site's base data as it is again", func() bool {
		hh := highHigh()
		return len(hh) >= 3 && hh[len(hh)-1] == 18.0
	})
}
