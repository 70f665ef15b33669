package report

import (
	"cmp"
	"slices"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// Chattering after ISA-18.2: a point and condition raised ChatterRaises
// times or more within any ChatterWindow (sliding, not calendar minutes).
const (
	ChatterRaises = 3
	ChatterWindow = time.Minute
)

// TopBadActors is how many bad actors a report lists.
const TopBadActors = 10

// maxListed bounds the standing and unacknowledged lists; the counts stay
// exact.
const maxListed = 50

// tally counts the alarms of the day. Alarms evaluated on back-filled data
// were never presented to an operator: they are counted apart and left
// out of every other figure.
func (r *Report) tally(alarms []store.ReportAlarm, acked map[store.AlarmKey]bool, hazards []store.HazardName) {
	from, to := r.From.UnixNano(), r.To.UnixNano()
	type hkey struct{ site, code string }
	names := map[hkey]store.HazardName{}
	for _, h := range hazards {
		names[hkey{h.SiteID, h.Code}] = h
	}
	byHazard := map[hkey]*HazardRow{}
	actors := map[[2]string]int{}
	raises := map[[3]string][]int64{}
	for _, a := range alarms {
		s := r.site(a.SiteID)
		if s == nil {
			continue
		}
		inDay := a.RaisedNs >= from && a.RaisedNs < to
		if a.Backfill {
			if inDay {
				s.Backfilled++
			}
			continue
		}
		standing := a.RaisedNs < to && (a.ClearedNs == 0 || a.ClearedNs >= to)
		isAcked := acked[store.AlarmKey{SiteID: a.SiteID, PointID: a.PointID, Condition: a.Condition, RaisedNs: a.RaisedNs}]
		line := AlarmLine{SiteID: a.SiteID, PointID: a.PointID, Condition: a.Condition, Priority: a.Priority,
			Raised: time.Unix(0, a.RaisedNs).In(r.From.Location()), Hours: float64(to-a.RaisedNs) / float64(time.Hour), Acked: isAcked}
		if standing {
			s.Standing++
			r.Standing = append(r.Standing, line)
		}
		if (inDay || standing) && !isAcked {
			s.Unacked++
			r.Unacked = append(r.Unacked, line)
		}
		if !inDay {
			continue
		}
		p := prio(a.Priority)
		s.Alarms++
		s.ByPriority[p]++
		r.Hourly[line.Raised.Sub(r.From)/time.Hour%24]++
		k := hkey{a.SiteID, a.HazardCode}
		h := byHazard[k]
		if h == nil {
			n := names[k]
			h = &HazardRow{SiteID: a.SiteID, Code: a.HazardCode, Name: n.Name, Level: n.Level}
			byHazard[k] = h
		}
		h.ByPriority[p]++
		h.Total++
		if a.PointID != "" {
			actors[[2]string{a.SiteID, a.PointID}]++
		}
		ck := [3]string{a.SiteID, a.PointID, a.Condition}
		raises[ck] = append(raises[ck], a.RaisedNs)
	}
	for _, h := range byHazard {
		r.ByHazard = append(r.ByHazard, *h)
	}
	slices.SortFunc(r.ByHazard, func(a, b HazardRow) int {
		return cmp.Or(cmp.Compare(b.Total, a.Total), cmp.Compare(a.SiteID, b.SiteID), cmp.Compare(a.Code, b.Code))
	})
	r.BadActors = badActors(actors)
	r.Chattering = chattering(raises)
	for _, c := range r.Chattering {
		r.site(c.SiteID).Chattering++
	}
	slices.SortStableFunc(r.Standing, func(a, b AlarmLine) int { return cmp.Compare(a.Raised.UnixNano(), b.Raised.UnixNano()) })
	slices.SortStableFunc(r.Unacked, func(a, b AlarmLine) int {
		return cmp.Or(cmp.Compare(prio(a.Priority), prio(b.Priority)), cmp.Compare(a.Raised.UnixNano(), b.Raised.UnixNano()))
	})
	r.Standing = r.Standing[:min(len(r.Standing), maxListed)]
	r.Unacked = r.Unacked[:min(len(r.Unacked), maxListed)]
}

// prio maps a priority to 1 high, 2 medium, 3 low, 0 anything else.
func prio(p uint8) int {
	if p >= 1 && p <= 3 {
		return int(p)
	}
	return 0
}

func badActors(counts map[[2]string]int) []BadActor {
	out := make([]BadActor, 0, len(counts))
	for k, n := range counts {
		out = append(out, BadActor{SiteID: k[0], PointID: k[1], Alarms: n})
	}
	slices.SortFunc(out, func(a, b BadActor) int {
		return cmp.Or(cmp.Compare(b.Alarms, a.Alarms), cmp.Compare(a.SiteID, b.SiteID), cmp.Compare(a.PointID, b.PointID))
	})
	return out[:min(len(out), TopBadActors)]
}

// chattering finds the point+condition pairs raised ChatterRaises times
// within a ChatterWindow (window [t, t+ChatterWindow)).
func chattering(raises map[[3]string][]int64) []Chatter {
	var out []Chatter
	for k, ts := range raises {
		slices.Sort(ts)
		most, lo := 0, 0
		for hi := range ts {
			for ts[hi]-ts[lo] >= int64(ChatterWindow) {
				lo++
			}
			most = max(most, hi-lo+1)
		}
		if most >= ChatterRaises {
			out = append(out, Chatter{SiteID: k[0], PointID: k[1], Condition: k[2], Raises: len(ts), MaxInWindow: most})
		}
	}
	slices.SortFunc(out, func(a, b Chatter) int {
		return cmp.Or(cmp.Compare(b.MaxInWindow, a.MaxInWindow), cmp.Compare(a.SiteID, b.SiteID),
			cmp.Compare(a.PointID, b.PointID), cmp.Compare(a.Condition, b.Condition))
	})
	return out
}
