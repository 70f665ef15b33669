package report

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// OnlineTarget is the national target for the online rate (≥ 99.5 %).
const OnlineTarget = 0.995

// DefaultZone is the time zone a park's day is read in unless configured.
const DefaultZone = "Asia/Shanghai"

// Request names the report wanted.
type Request struct {
	Park string
	Site string // "" for every enterprise of the park
	Day  string // YYYY-MM-DD in Zone
	Zone *time.Location
}

// Interval returns the day of r in its zone as [from, to).
func (r Request) Interval() (from, to time.Time, err error) {
	zone := r.Zone
	if zone == nil {
		return time.Time{}, time.Time{}, errors.New("report: no time zone")
	}
	d, err := time.ParseInLocation(time.DateOnly, r.Day, zone)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("report day %q: want YYYY-MM-DD", r.Day)
	}
	return d, time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, zone), nil
}

// Report is the daily report's figures.
type Report struct {
	Park, Site, Day, Zone string
	From, To              time.Time
	Generated             time.Time

	Total        SiteSummary   // the park (or the one site)
	Sites        []SiteSummary // per enterprise
	ByHazard     []HazardRow
	Hourly       [24]int // alarms raised per hour of the day (local)
	Standing     []AlarmLine
	Unacked      []AlarmLine
	BadActors    []BadActor
	Chattering   []Chatter
	Gaps         []store.ReportGap
	OutOfService []store.ReportOutOfService
}

// SiteSummary holds one enterprise's (or the park's) figures for the day.
type SiteSummary struct {
	SiteID, Name, Code string
	Alarms             int    // raised during the day, live data
	ByPriority         [4]int // index 1 high, 2 medium, 3 low (0: other)
	Backfilled         int    // raised during the day on back-filled data, not counted above
	Standing           int    // active at the end of the day
	Unacked            int    // raised during the day or standing, no ack before the end of the day
	Chattering         int    // point+condition pairs chattering
	DuePoints          uint64
	OnlineMinutes      uint64
	DueMinutes         uint64
	Gaps               int
	OutOfService       int
}

// OnlineRate is online / due minutes; ok is false when no point was due.
func (s SiteSummary) OnlineRate() (rate float64, ok bool) {
	if s.DueMinutes == 0 {
		return 0, false
	}
	return float64(s.OnlineMinutes) / float64(s.DueMinutes), true
}

// MeetsTarget reports whether the online rate reaches OnlineTarget.
func (s SiteSummary) MeetsTarget() bool {
	r, ok := s.OnlineRate()
	return ok && r >= OnlineTarget
}

// HazardRow counts the day's alarms of one hazard source by priority.
type HazardRow struct {
	SiteID, Code, Name string
	Level              uint8
	ByPriority         [4]int
	Total              int
}

// AlarmLine is one alarm in a list.
type AlarmLine struct {
	SiteID, PointID, Condition string
	Priority                   uint8
	Raised                     time.Time
	Hours                      float64 // active for, at the end of the day
	Acked                      bool
}

// BadActor is a point with many alarms.
type BadActor struct {
	SiteID, PointID string
	Alarms          int
}

// Chatter is a point and condition raised at least ChatterRaises times
// within ChatterWindow.
type Chatter struct {
	SiteID, PointID, Condition string
	Raises                     int // during the day
	MaxInWindow                int // most raises within one ChatterWindow
}

// Build reads the figures of req from src.
func Build(ctx context.Context, src Source, req Request, now time.Time) (*Report, error) {
	from, to, err := req.Interval()
	if err != nil {
		return nil, err
	}
	sites, err := src.ReportSites(ctx, req.Park, req.Site)
	if err != nil {
		return nil, err
	}
	if len(sites) == 0 {
		if req.Site != "" {
			return nil, fmt.Errorf("report: site %s is not in park %s", req.Site, req.Park)
		}
		return nil, fmt.Errorf("report: park %s has no sites", req.Park)
	}
	ids := make([]string, len(sites))
	for i, s := range sites {
		ids[i] = s.SiteID
	}
	r := &Report{Park: req.Park, Site: req.Site, Day: req.Day, Zone: req.Zone.String(), From: from, To: to, Generated: now}
	if err := r.readAlarms(ctx, src, sites, ids); err != nil {
		return nil, err
	}
	if err := r.readCoverage(ctx, src, ids); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Report) readAlarms(ctx context.Context, src alarmSource, sites []store.ReportSite, ids []string) error {
	alarms, err := src.ReportAlarms(ctx, ids, r.From, r.To)
	if err != nil {
		return err
	}
	earliest := r.From
	for _, a := range alarms {
		earliest = time.Unix(0, min(earliest.UnixNano(), a.RaisedNs))
	}
	acked, err := src.ReportAcknowledged(ctx, ids, earliest, r.To)
	if err != nil {
		return err
	}
	hazards, err := src.ReportHazards(ctx, ids)
	if err != nil {
		return err
	}
	r.Sites = make([]SiteSummary, len(sites))
	for i, s := range sites {
		r.Sites[i] = SiteSummary{SiteID: s.SiteID, Name: s.Name, Code: s.Code}
	}
	r.tally(alarms, acked, hazards)
	return nil
}

func (r *Report) readCoverage(ctx context.Context, src coverageSource, ids []string) error {
	online, err := src.ReportOnline(ctx, ids, r.From, r.To)
	if err != nil {
		return err
	}
	minutes := uint64(r.To.Sub(r.From) / time.Minute)
	for _, o := range online {
		if s := r.site(o.SiteID); s != nil {
			s.DuePoints, s.OnlineMinutes, s.DueMinutes = o.DuePoints, o.OnlineMinutes, o.DuePoints*minutes
		}
	}
	if r.Gaps, err = src.ReportGaps(ctx, ids, r.From, r.To); err != nil {
		return err
	}
	for _, g := range r.Gaps {
		if s := r.site(g.SiteID); s != nil {
			s.Gaps++
		}
	}
	if r.OutOfService, err = src.ReportOutOfServicePoints(ctx, ids, r.From, r.To); err != nil {
		return err
	}
	for _, o := range r.OutOfService {
		if s := r.site(o.SiteID); s != nil {
			s.OutOfService++
		}
	}
	r.Total = SiteSummary{SiteID: r.Site, Name: r.Park}
	for _, s := range r.Sites {
		t := &r.Total
		t.Alarms += s.Alarms
		for p := range s.ByPriority {
			t.ByPriority[p] += s.ByPriority[p]
		}
		t.Backfilled += s.Backfilled
		t.Standing += s.Standing
		t.Unacked += s.Unacked
		t.Chattering += s.Chattering
		t.DuePoints += s.DuePoints
		t.OnlineMinutes += s.OnlineMinutes
		t.DueMinutes += s.DueMinutes
		t.Gaps += s.Gaps
		t.OutOfService += s.OutOfService
	}
	return nil
}

// site returns the summary of id, nil if the report does not cover it.
func (r *Report) site(id string) *SiteSummary {
	for i := range r.Sites {
		if r.Sites[i].SiteID == id {
			return &r.Sites[i]
		}
	}
	return nil
}
