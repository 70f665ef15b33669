package report_test

import (
	"context"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/report"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// expected counts what the report should say from the seed alone.
type expected struct {
	alarms, backfilled, standing, unacked map[string]int // per site
	byHazard                              map[[2]string][4]int
	actors                                map[[2]string]int
	chatter                               map[[3]string]int // most raises in one minute window, ≥ 3
	onlineMinutes, duePoints              map[string]int
	gaps, oos                             map[string]int
}

func count(sd *seed, park string) expected {
	e := expected{alarms: map[string]int{}, backfilled: map[string]int{}, standing: map[string]int{}, unacked: map[string]int{},
		byHazard: map[[2]string][4]int{}, actors: map[[2]string]int{}, chatter: map[[3]string]int{},
		onlineMinutes: map[string]int{}, duePoints: map[string]int{}, gaps: map[string]int{}, oos: map[string]int{}}
	acked := map[store.AlarmKey]bool{}
	for _, a := range sd.acks {
		if (a.action == "ack" || a.action == "close") && a.at.Before(dayEnd) {
			acked[a.key] = true
		}
	}
	raises := map[[3]string][]time.Time{}
	for _, a := range sd.alarms {
		if sd.sitesOf[a.SiteID] != park {
			continue
		}
		raised := time.Unix(0, a.RaisedNs)
		inDay := !raised.Before(dayStart) && raised.Before(dayEnd)
		if a.Backfill {
			if inDay {
				e.backfilled[a.SiteID]++
			}
			continue
		}
		standing := raised.Before(dayEnd) && (a.Active || !time.Unix(0, a.ClearedNs).Before(dayEnd))
		if standing {
			e.standing[a.SiteID]++
		}
		key := store.AlarmKey{SiteID: a.SiteID, PointID: a.PointID, Condition: a.Condition, RaisedNs: a.RaisedNs}
		if (inDay || standing) && !acked[key] {
			e.unacked[a.SiteID]++
		}
		if !inDay {
			continue
		}
		e.alarms[a.SiteID]++
		h := e.byHazard[[2]string{a.SiteID, a.HazardCode}]
		h[a.Priority]++
		e.byHazard[[2]string{a.SiteID, a.HazardCode}] = h
		if a.PointID != "" {
			e.actors[[2]string{a.SiteID, a.PointID}]++
		}
		k := [3]string{a.SiteID, a.PointID, a.Condition}
		raises[k] = append(raises[k], raised)
	}
	for k, ts := range raises {
		most := 0
		for _, t0 := range ts {
			n := 0
			for _, t1 := range ts {
				if !t1.Before(t0) && t1.Sub(t0) < time.Minute {
					n++
				}
			}
			most = max(most, n)
		}
		if most >= 3 {
			e.chatter[k] = most
		}
	}
	for k := range sd.due {
		if sd.sitesOf[k[0]] == park {
			e.duePoints[k[0]]++
			e.onlineMinutes[k[0]] += len(sd.online[k])
		}
	}
	for _, g := range sd.gaps {
		e.gaps[g.site]++
	}
	for _, o := range sd.oos {
		e.oos[o[0]]++
	}
	return e
}

func build(t *testing.T, s *store.Store, site string) *report.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := report.Build(ctx, s, report.Request{Park: "P1", Site: site, Day: "2026-03-02", Zone: shanghai}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestFiguresMatchTheSeed(t *testing.T) {
	s := storetest.Open(t)
	sd := seedDay(t, s, true)
	want := count(sd, "P1")
	r := build(t, s, "")
	if got := siteIDs(r); !slices.Equal(got, []string{"S1", "S2", "S3"}) {
		t.Fatalf("sites %v, want S1 S2 S3 (S8 and S9 are in P2)", got)
	}
	total := 0
	for _, s := range r.Sites {
		id := s.SiteID
		total += want.alarms[id]
		checkInt(t, id+" alarms", s.Alarms, want.alarms[id])
		checkInt(t, id+" back-filled", s.Backfilled, want.backfilled[id])
		checkInt(t, id+" standing", s.Standing, want.standing[id])
		checkInt(t, id+" unacknowledged", s.Unacked, want.unacked[id])
		checkInt(t, id+" gaps", s.Gaps, want.gaps[id])
		checkInt(t, id+" out of service", s.OutOfService, want.oos[id])
		checkInt(t, id+" due points", int(s.DuePoints), want.duePoints[id])
		checkInt(t, id+" online minutes", int(s.OnlineMinutes), want.onlineMinutes[id])
		checkInt(t, id+" due minutes", int(s.DueMinutes), want.duePoints[id]*1440)
	}
	checkInt(t, "park alarms", r.Total.Alarms, total)
	if total < 100 {
		t.Fatalf("seed too thin: %d alarms in the day", total)
	}
	gotHazard := map[[2]string][4]int{}
	for _, h := range r.ByHazard {
		gotHazard[[2]string{h.SiteID, h.Code}] = h.ByPriority
		if h.Code == "HS-02" && h.Name != "氯化反应装置" {
			t.Errorf("HS-02 named %q", h.Name)
		}
	}
	if !mapsEqual(gotHazard, want.byHazard) {
		t.Errorf("by hazard source and priority:\n got  %v\n want %v", gotHazard, want.byHazard)
	}
	checkBadActors(t, r.BadActors, want.actors)
	gotChatter := map[[3]string]int{}
	for _, c := range r.Chattering {
		gotChatter[[3]string{c.SiteID, c.PointID, c.Condition}] = c.MaxInWindow
	}
	if !mapsEqual(gotChatter, want.chatter) {
		t.Errorf("chattering:\n got  %v\n want %v", gotChatter, want.chatter)
	}
	if want.chatter[[3]string{"S1", "T102.LT", "L"}] != 3 || len(want.chatter) == 0 {
		t.Errorf("the seeded burst is not chattering by the test's own count: %v", want.chatter)
	}
}

func TestOneSiteWithoutAcknowledgements(t *testing.T) {
	s := storetest.Open(t)
	sd := seedDay(t, s, false)
	want := count(sd, "P1")
	r := build(t, s, "S2")
	if len(r.Sites) != 1 || r.Sites[0].SiteID != "S2" {
		t.Fatalf("sites %v, want S2 only", siteIDs(r))
	}
	checkInt(t, "S2 unacknowledged", r.Total.Unacked, want.unacked["S2"])
	checkInt(t, "S2 alarms", r.Total.Alarms, want.alarms["S2"])
}

func checkBadActors(t *testing.T, got []report.BadActor, counts map[[2]string]int) {
	t.Helper()
	type actor struct {
		k [2]string
		n int
	}
	var want []actor
	for k, n := range counts {
		want = append(want, actor{k, n})
	}
	sort.Slice(want, func(i, j int) bool {
		if want[i].n != want[j].n {
			return want[i].n > want[j].n
		}
		return want[i].k[0] < want[j].k[0] || want[i].k[0] == want[j].k[0] && want[i].k[1] < want[j].k[1]
	})
	want = want[:min(10, len(want))]
	if len(got) != len(want) {
		t.Fatalf("%d bad actors, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].SiteID != want[i].k[0] || got[i].PointID != want[i].k[1] || got[i].Alarms != want[i].n {
			t.Errorf("bad actor %d: %+v, want %v", i, got[i], want[i])
		}
	}
}

func siteIDs(r *report.Report) []string {
	var out []string
	for _, s := range r.Sites {
		out = append(out, s.SiteID)
	}
	return out
}

func checkInt(t *testing.T, what string, got, want int) {
	t.Helper()
	if got != want {
		t.Errorf("%s: %d, want %d", what, got, want)
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
