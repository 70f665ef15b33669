package report

import (
	"fmt"
	"html/template"
	"strings"
)

// Charts are inline SVG written here, so a report has no external assets
// and prints the same in a mail client, a browser and the PDF.

// priorityColours by priority: other, high, medium, low.
var priorityColours = [4]string{"#999999", "#c0392b", "#e67e22", "#2980b9"}

// hourlyChart draws the alarms raised per hour of the day.
func hourlyChart(hours [24]int) template.HTML {
	const w, h, left, bottom = 640, 160, 32, 20
	most := 1
	for _, n := range hours {
		most = max(most, n)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="alarms per hour">`, w, h)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`, left, h-bottom, w, h-bottom)
	fmt.Fprintf(&b, `<text x="%d" y="12" font-size="10" text-anchor="end">%d</text>`, left-4, most)
	bw := float64(w-left) / 24
	for i, n := range hours {
		bh := float64(h-bottom-16) * float64(n) / float64(most)
		x := float64(left) + float64(i)*bw
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#34495e"><title>%02d:00 %d</title></rect>`,
			x+1, float64(h-bottom)-bh, bw-2, bh, i, n)
		if i%3 == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10">%02d</text>`, x+1, h-6, i)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// hazardChart draws the alarms of each hazard source stacked by priority.
func hazardChart(rows []HazardRow) template.HTML {
	rows = rows[:min(len(rows), 10)]
	if len(rows) == 0 {
		return ""
	}
	const w, left, barH = 640, 190, 18
	h := len(rows)*(barH+6) + 24
	most := 1
	for _, r := range rows {
		most = max(most, r.Total)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="alarms per hazard source">`, w, h)
	for i, r := range rows {
		y := i * (barH + 6)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" text-anchor="end">%s</text>`, left-6, y+13, template.HTMLEscapeString(hazardLabel(r)))
		x := float64(left)
		for _, p := range []int{1, 2, 3, 0} {
			bw := float64(w-left-40) * float64(r.ByPriority[p]) / float64(most)
			if bw > 0 {
				fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`, x, y, bw, barH, priorityColours[p])
			}
			x += bw
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11">%d</text>`, x+4, y+13, r.Total)
	}
	legend := h - 8
	for i, p := range []int{1, 2, 3} {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" font-size="10">%s</text>`,
			left+i*120, legend-9, priorityColours[p], left+i*120+14, legend, priorityName(p))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func hazardLabel(r HazardRow) string {
	switch {
	case r.Code == "":
		return r.SiteID + " 未关联 none"
	case r.Name != "":
		return r.SiteID + " " + r.Name
	default:
		return r.SiteID + " " + r.Code
	}
}

// onlineChart draws each enterprise's online rate against the target.
func onlineChart(sites []SiteSummary) template.HTML {
	const w, left, barH = 640, 190, 18
	h := len(sites)*(barH+6) + 20
	span := float64(w - left - 60)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="online rate">`, w, h)
	for i, s := range sites {
		y := i * (barH + 6)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" text-anchor="end">%s</text>`, left-6, y+13, template.HTMLEscapeString(s.SiteID+" "+s.Name))
		rate, ok := s.OnlineRate()
		if !ok {
			fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11">—</text>`, left+4, y+13)
			continue
		}
		colour := "#27ae60"
		if !s.MeetsTarget() {
			colour = "#c0392b"
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`, left, y, span*rate, barH, colour)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11">%s</text>`, float64(left)+span*rate+4, y+13, percent(rate))
	}
	tx := float64(left) + span*OnlineTarget
	fmt.Fprintf(&b, `<line x1="%.1f" y1="0" x2="%.1f" y2="%d" stroke="#333" stroke-dasharray="3,2"/>`, tx, tx, h-14)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" text-anchor="middle">99.5%%</text>`, tx, h-3)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func percent(r float64) string { return fmt.Sprintf("%.2f%%", r*100) }

func priorityName(p int) string {
	switch p {
	case 1:
		return "高 high"
	case 2:
		return "中 medium"
	case 3:
		return "低 low"
	}
	return "其他 other"
}
