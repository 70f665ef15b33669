package report_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// The seeded day: 2026-03-02 in Asia/Shanghai, 2026-03-01 16:00 to
// 2026-03-02 16:00 UTC.
var (
	shanghai = mustZone("Asia/Shanghai")
	dayStart = time.Date(2026, 3, 2, 0, 0, 0, 0, shanghai)
	dayEnd   = dayStart.Add(24 * time.Hour)
)

func mustZone(name string) *time.Location {
	z, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return z
}

// seed is what was written, for the test to count from.
type seed struct {
	alarms  []store.AlarmEvent
	acks    []ack
	online  map[[2]string]map[int64]bool // site, point → online minutes (Unix s) of the day
	due     map[[2]string]bool           // points in service all day
	sitesOf map[string]string            // site → park
	gaps    []gapSeed
	oos     [][2]string // site, point out of service at some time of the day
}

type ack struct {
	key    store.AlarmKey
	action string
	at     time.Time
}

type gapSeed struct {
	site     string
	from, to time.Time
}

// priorities as the evaluator sets them.
var conditionPriority = map[string]uint8{"HH": 1, "LL": 1, "stage2": 1, "comm_loss": 1, "H": 2, "L": 2, "stage1": 2,
	"bad_quality": 2, "stale": 3, "frozen": 3}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// seedDay writes two enterprises of park P1 and one of P2: points, a day
// of samples and liveness, alarms (random, plus hand-made edge cases),
// gaps and out-of-service periods. With acks, some
// alarms are acknowledged in alarm_actions.
func seedDay(t *testing.T, s *store.Store, withAcks bool) *seed {
	t.Helper()
	ctx := context.Background()
	sd := &seed{online: map[[2]string]map[int64]bool{}, due: map[[2]string]bool{},
		sitesOf: map[string]string{"S1": "P1", "S2": "P1", "S3": "P1", "S8": "P2", "S9": "P2"}}
	must(t, s.SaveRegistry(ctx, []store.Enterprise{
		{SiteID: "S1", Code: "91320500MA1X", Name: "甲化工", Park: "P1"},
		{SiteID: "S2", Code: "91320500MA2Y", Name: "乙化工", Park: "P1"},
		{SiteID: "S9", Code: "91320500MA9Z", Name: "丙化工", Park: "P2"},
		{SiteID: "S8", Code: "91320500MA8W", Name: "丁化工", Park: "P2"}, // its agent says P1: the registry wins
	}, []store.HazardSource{
		{SiteID: "S1", Code: "HS-01", Name: "甲醇储罐区", Level: 2, UnitType: "tank_farm"},
		{SiteID: "S2", Code: "HS-02", Name: "氯化反应装置", Level: 1, UnitType: "production_unit"},
	}, nil, nil))
	points := map[string][]*lifelinev1.Point{
		"S1": {{Id: "T101.LT", Kind: "level"}, {Id: "T102.LT", Kind: "level"}, {Id: "GT101", Kind: "gas_combustible"},
			{Id: "F103.FT", Kind: "flow", OutOfService: true}},
		"S2": {{Id: "R201.TT", Kind: "temperature"}, {Id: "R202.PT", Kind: "pressure"}},
		"S9": {{Id: "X1.LT", Kind: "level"}},
		"S3": {{Id: "Y1.LT", Kind: "level"}}, // not in the registry: the park its agent announced
		"S8": {{Id: "Z1.LT", Kind: "level"}},
	}
	for site, ps := range points {
		park := sd.sitesOf[site]
		if site == "S8" {
			park = "P1"
		}
		must(t, s.SaveCatalog(ctx, site, park, "test", ps))
	}
	sd.seedOutOfService(t, ctx, s)
	for site, ps := range points {
		for _, p := range ps {
			if !p.OutOfService && !(site == "S1" && p.Id == "GT101") {
				sd.due[[2]string{site, p.Id}] = true
			}
		}
	}
	sd.seedSamples(t, ctx, s)
	sd.seedGaps(t, ctx, s)
	sd.seedAlarms(t, ctx, s)
	if withAcks {
		sd.seedAcks(t, ctx, s)
	}
	return sd
}

func (sd *seed) seedOutOfService(t *testing.T, ctx context.Context, s *store.Store) {
	must(t, s.SaveOutOfService(ctx, []store.OutOfServicePeriod{
		{SiteID: "S1", PointID: "GT101", From: dayStart.Add(10 * time.Hour), To: dayStart.Add(11 * time.Hour), Reason: "探头更换", SetBy: "李工"},
		{SiteID: "S1", PointID: "T101.LT", From: dayStart.Add(-48 * time.Hour), To: dayStart.Add(-24 * time.Hour), Reason: "校验"},
		{SiteID: "S1", PointID: "T102.LT", From: dayStart.Add(2 * time.Hour), To: dayStart.Add(3 * time.Hour), Deleted: true},
	}))
	sd.oos = [][2]string{{"S1", "GT101"}, {"S1", "F103.FT"}}
}

// seedSamples: T101 one sample a minute but for 100 silent minutes and one
// bad one; T102 steady (one sample, then liveness for 600 minutes); R201
// the first 1,380 minutes; R202 nothing; the out-of-service points all day.
func (sd *seed) seedSamples(t *testing.T, ctx context.Context, s *store.Store) {
	num := func(p string, at time.Time, status uint32) *lifelinev1.Sample {
		return &lifelinev1.Sample{PointId: p, SourceTimeNs: at.UnixNano(), ReceiveTimeNs: at.UnixNano(), Status: status,
			Value: &lifelinev1.Sample_Number{Number: 1}}
	}
	mark := func(site, point string, at time.Time) {
		k := [2]string{site, point}
		if sd.online[k] == nil {
			sd.online[k] = map[int64]bool{}
		}
		if !at.Before(dayStart) && at.Before(dayEnd) {
			sd.online[k][at.Truncate(time.Minute).Unix()] = true
		}
	}
	s1 := &store.Batch{SiteID: "S1", Seq: 1}
	s2 := &store.Batch{SiteID: "S2", Seq: 1}
	s9 := &store.Batch{SiteID: "S9", Seq: 1}
	for m := -30; m < 1440+30; m++ {
		at := dayStart.Add(time.Duration(m)*time.Minute + 17*time.Second)
		if m < 100 || m >= 200 {
			var status uint32
			if m == 700 {
				status = 0x80000000
			}
			s1.Samples = append(s1.Samples, num("T101.LT", at, status))
			if status == 0 {
				mark("S1", "T101.LT", at)
			}
		}
		s1.Samples = append(s1.Samples, num("GT101", at, 0), num("F103.FT", at, 0))
		if m < 1380 {
			s2.Samples = append(s2.Samples, num("R201.TT", at, 0))
			mark("S2", "R201.TT", at)
		}
		s9.Samples = append(s9.Samples, num("X1.LT", at, 0))
	}
	s1.Samples = append(s1.Samples, num("T102.LT", dayStart.Add(5*time.Second), 0))
	mark("S1", "T102.LT", dayStart)
	live := &store.Batch{SiteID: "S1", Seq: 2}
	for m := range 600 {
		at := dayStart.Add(time.Duration(m) * time.Minute)
		live.Liveness = append(live.Liveness, &lifelinev1.Liveness{MinuteNs: at.UnixNano(), PointIds: []string{"T102.LT"}})
		mark("S1", "T102.LT", at)
	}
	must(t, s.Insert(ctx, []*store.Batch{s1, s2, s9, live}))
}

func (sd *seed) seedGaps(t *testing.T, ctx context.Context, s *store.Store) {
	gaps := []struct {
		site     string
		from, to time.Time
		keep     bool
	}{
		{"S1", dayStart.Add(-10 * time.Minute), dayStart.Add(10 * time.Minute), true},
		{"S2", dayStart.Add(5 * time.Hour), dayStart.Add(6 * time.Hour), true},
		{"S1", dayStart.Add(-5 * time.Hour), dayStart.Add(-4 * time.Hour), false},
		{"S9", dayStart.Add(5 * time.Hour), dayStart.Add(6 * time.Hour), false},
	}
	var batches []*store.Batch
	for i, g := range gaps {
		batches = append(batches, &store.Batch{SiteID: g.site, Seq: uint64(10 + i), Gaps: []*lifelinev1.Gap{{
			PointIds: []string{"a", "b"}, FromNs: g.from.UnixNano(), ToNs: g.to.UnixNano(), Samples: 60, Reason: "buffer_full"}}})
		if g.keep {
			sd.gaps = append(sd.gaps, gapSeed{g.site, g.from, g.to})
		}
	}
	must(t, s.Insert(ctx, batches))
}

// seedAlarms: 400 random alarms over three days around the report's day,
// a chattering burst across a minute boundary, a pair that is not one,
// back-filled alarms and alarms of the other park.
func (sd *seed) seedAlarms(t *testing.T, ctx context.Context, s *store.Store) {
	rng := rand.New(rand.NewPCG(17, 2026))
	type pt struct{ site, point, hazard string }
	pts := []pt{{"S1", "T101.LT", "HS-01"}, {"S1", "T102.LT", "HS-01"}, {"S2", "R201.TT", "HS-02"}, {"S2", "R202.PT", ""},
		{"S2", "", ""}, {"S9", "X1.LT", "HS-09"}}
	conds := []string{"HH", "H", "L", "LL", "stale", "bad_quality"}
	used := map[store.AlarmKey]bool{}
	add := func(e store.AlarmEvent) {
		k := store.AlarmKey{SiteID: e.SiteID, PointID: e.PointID, Condition: e.Condition, RaisedNs: e.RaisedNs}
		if used[k] {
			return
		}
		used[k] = true
		e.Priority = conditionPriority[e.Condition]
		sd.alarms = append(sd.alarms, e)
	}
	for range 400 {
		p := pts[rng.IntN(len(pts))]
		cond := conds[rng.IntN(len(conds))]
		if p.point == "" {
			cond = "comm_loss"
		}
		raised := dayStart.Add(-24*time.Hour + time.Duration(rng.Int64N(int64(72*time.Hour))))
		e := store.AlarmEvent{SiteID: p.site, PointID: p.point, Condition: cond, RaisedNs: raised.UnixNano(), HazardCode: p.hazard,
			Backfill: rng.IntN(20) == 0}
		if rng.IntN(8) == 0 {
			e.Active = true
		} else {
			e.ClearedNs = raised.Add(time.Duration(rng.Int64N(int64(30 * time.Hour)))).UnixNano()
		}
		add(e)
	}
	at := func(hms string) int64 {
		v, err := time.ParseInLocation(time.DateTime, "2026-03-02 "+hms, shanghai)
		must(t, err)
		return v.UnixNano()
	}
	for _, hms := range []string{"10:00:40", "10:01:00", "10:01:30", "10:05:00"} { // 3 within 50 s
		add(store.AlarmEvent{SiteID: "S1", PointID: "T102.LT", Condition: "L", RaisedNs: at(hms), ClearedNs: at(hms) + 5e9, HazardCode: "HS-01"})
	}
	for _, hms := range []string{"12:00:00", "12:00:59", "12:01:00"} { // 3 in 60 s, never 3 in one window
		add(store.AlarmEvent{SiteID: "S2", PointID: "R201.TT", Condition: "LL", RaisedNs: at(hms), ClearedNs: at(hms) + 1e9, HazardCode: "HS-02"})
	}
	for i := range 3 { // back-filled chattering: not counted
		add(store.AlarmEvent{SiteID: "S1", PointID: "T101.LT", Condition: "frozen", RaisedNs: at("13:00:00") + int64(i)*1e9,
			ClearedNs: at("13:00:00") + int64(i)*1e9 + 5e8, Backfill: true})
	}
	// A standing alarm raised two days before, and one cleared exactly at
	// the end of the day (still active at its last instant).
	add(store.AlarmEvent{SiteID: "S2", PointID: "R202.PT", Condition: "H", RaisedNs: dayStart.Add(-48 * time.Hour).UnixNano(), Active: true})
	add(store.AlarmEvent{SiteID: "S1", PointID: "T101.LT", Condition: "HH", RaisedNs: at("23:00:00"), ClearedNs: dayEnd.UnixNano(), HazardCode: "HS-01"})
	must(t, s.SaveAlarmEvents(ctx, sd.alarms))
	// Written again as a retry would: rows collapse.
	must(t, s.SaveAlarmEvents(ctx, sd.alarms[:50]))
}

// seedAcks acts on every fourth alarm: acks and closes (some after the end
// of the day, which do not count for it), comments and shelves (never an
// acknowledgement).
func (sd *seed) seedAcks(t *testing.T, ctx context.Context, s *store.Store) {
	conn := chtest.Conn(t, s.Config().Addr, s.Config().Database)
	actions := []string{"ack", "close", "comment", "shelve", "ack"}
	for i, a := range sd.alarms {
		if i%4 != 0 {
			continue
		}
		at := time.Unix(0, a.RaisedNs).Add(time.Hour)
		if i%12 == 0 {
			at = dayEnd.Add(time.Minute)
		}
		sd.acks = append(sd.acks, ack{key: store.AlarmKey{SiteID: a.SiteID, PointID: a.PointID, Condition: a.Condition, RaisedNs: a.RaisedNs},
			action: actions[(i/4)%len(actions)], at: at})
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO alarm_actions (site_id, point_id, condition, raised_ns, action, at_ns, user, action_id)")
	must(t, err)
	for i, a := range sd.acks {
		must(t, b.Append(a.key.SiteID, a.key.PointID, a.key.Condition, a.key.RaisedNs, a.action, a.at.UnixNano(), "张工", fmt.Sprint(i)))
	}
	must(t, b.Send())
}
