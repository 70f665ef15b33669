package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"time"
)

//go:embed report.html.tmpl
var pageText string

// page is parsed once; a template is immutable after parsing.
var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"inc":  func(i int) int { return i + 1 },
	"prio": func(p uint8) string { return priorityName(prio(p)) },
	// Replaced per report by its zone's (see HTML).
	"ns": func(int64) string { return "" }, "when": func(time.Time) string { return "" }, "until": func(time.Time) string { return "" },
}).Parse(pageText))

// view is what the template shows.
type view struct {
	R                                     *Report
	Title, Span, Generated                string
	Rows                                  []summaryRow
	HourlyChart, HazardChart, OnlineChart template.HTML
	StandingList, UnackedList             alarmList
	ChatterRaises                         int
}

type summaryRow struct {
	Label, Online, OnlineClass string
	S                          SiteSummary
}

type alarmList struct {
	Lines []AlarmLine
	Total int
}

// Title is the report's Chinese title.
func (r *Report) Title() string {
	if r.Site != "" {
		return fmt.Sprintf("%s %s 安全监测日报", r.Park, r.Site)
	}
	return fmt.Sprintf("%s 园区安全监测日报", r.Park)
}

// HTML renders the report as one self-contained, printable A4 page.
func (r *Report) HTML() ([]byte, error) {
	zone := r.From.Location()
	v := view{R: r, Title: r.Title(), ChatterRaises: ChatterRaises,
		Span:        r.From.Format("01-02 15:04") + " – " + r.To.Format("01-02 15:04"),
		Generated:   r.Generated.In(zone).Format(time.DateTime),
		HourlyChart: hourlyChart(r.Hourly), HazardChart: hazardChart(r.ByHazard), OnlineChart: onlineChart(r.Sites),
		StandingList: alarmList{r.Standing, r.Total.Standing}, UnackedList: alarmList{r.Unacked, r.Total.Unacked}}
	for _, s := range r.Sites {
		v.Rows = append(v.Rows, row(s.SiteID+" "+s.Name, s))
	}
	if len(r.Sites) > 1 {
		v.Rows = append(v.Rows, row("合计 Park total", r.Total))
	}
	funcs := template.FuncMap{
		"ns":   func(ns int64) string { return time.Unix(0, ns).In(zone).Format("01-02 15:04:05") },
		"when": func(t time.Time) string { return t.In(zone).Format("01-02 15:04:05") },
		"until": func(t time.Time) string {
			if t.Year() >= 2100 { // store.OpenEnded
				return "未结束 open"
			}
			return t.In(zone).Format("01-02 15:04:05")
		},
	}
	tmpl, err := pageTemplate.Clone()
	if err != nil {
		return nil, fmt.Errorf("render report: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Funcs(funcs).Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("render report: %w", err)
	}
	return buf.Bytes(), nil
}

func row(label string, s SiteSummary) summaryRow {
	out := summaryRow{Label: label, S: s, Online: "—", OnlineClass: "none"}
	if rate, ok := s.OnlineRate(); ok {
		out.Online, out.OnlineClass = percent(rate), "bad"
		if s.MeetsTarget() {
			out.OnlineClass = "ok"
		}
	}
	return out
}
