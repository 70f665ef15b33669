package notify

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// Messages show times in China Standard Time, where the plants are.
var cst = time.FixedZone("UTC+8", 8*3600)

var conditionNames = map[string]string{
	"HH": "高高报", "H": "高报", "L": "低报", "LL": "低低报", "stage1": "一级报警", "stage2": "二级报警",
	"bad_quality": "数据质量坏", "stale": "数据停滞", "frozen": "数值冻结", "comm_loss": "通讯中断",
}

var priorityNames = map[uint8]string{1: "高", 2: "中", 3: "低"}

func conditionName(c string) string {
	if n, ok := conditionNames[c]; ok {
		return n
	}
	return c
}

func place(a store.NotifyAlarm) string {
	if a.Enterprise != "" {
		return a.Enterprise
	}
	return a.SiteID
}

func formatTime(ns int64) string { return time.Unix(0, ns).In(cst).Format("2006-01-02 15:04:05") }

// formatDelay says 10分钟 for whole minutes, else Go's form (90s).
func formatDelay(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d分钟", int(d/time.Minute))
	}
	return d.String()
}

func formatValue(v float64, unit string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return strings.TrimSpace(fmt.Sprintf("%g %s", v, unit))
}

// alarmLine is the one-line form used in summaries.
func alarmLine(a store.NotifyAlarm) string {
	return fmt.Sprintf("%s %s %s %s %s", formatTime(a.RaisedNs), place(a), a.PointID, conditionName(a.Condition),
		formatValue(a.Value, a.Unit))
}

// composeAlarm writes the subject, text, markdown and webhook data of one
// alarm notification.
func composeAlarm(c candidate) (subject, text, markdown, data string) {
	a := c.alarm
	tag := "报警·" + priorityNames[a.Priority]
	if c.after > 0 {
		tag = fmt.Sprintf("升级·%s未确认·%s", formatDelay(c.after), priorityNames[a.Priority])
	}
	subject = fmt.Sprintf("【%s】%s %s %s", tag, place(a), a.PointID, conditionName(a.Condition))
	state := "活动"
	if !a.Active {
		state = "已恢复 " + formatTime(a.ClearedNs)
	}
	hazard := a.HazardCode
	if a.HazardName != "" {
		hazard = a.HazardName + " (" + a.HazardCode + ")"
	}
	site := a.SiteID
	if a.Enterprise != "" {
		site = a.Enterprise + " (" + a.SiteID + ")"
	}
	fields := [][2]string{
		{"园区", a.Park}, {"企业", site}, {"点位", a.PointID}, {"设备", a.Equipment},
		{"危险源", hazard}, {"报警", conditionName(a.Condition) + " · 优先级" + priorityNames[a.Priority]},
		{"数值", formatValue(a.Value, a.Unit)}, {"限值", formatValue(a.Limit, a.Unit)},
		{"发生时间", formatTime(a.RaisedNs) + " (UTC+8)"}, {"状态", state},
	}
	var t, m strings.Builder
	for _, f := range fields {
		if f[1] == "" {
			continue
		}
		fmt.Fprintf(&t, "%s: %s\n", f[0], f[1])
		fmt.Fprintf(&m, "- **%s**: %s\n", f[0], f[1])
	}
	d, _ := json.Marshal(map[string]any{
		"kind": "alarm", "site_id": a.SiteID, "point_id": a.PointID, "condition": a.Condition, "raised_ns": a.RaisedNs,
		"priority": a.Priority, "active": a.Active, "park": a.Park, "enterprise": a.Enterprise, "hazard_code": a.HazardCode,
		"value": jsonNumber(a.Value), "limit": jsonNumber(a.Limit), "unit": a.Unit, "step": c.step, "recipient": c.recipient,
	})
	return subject, strings.TrimRight(t.String(), "\n"), strings.TrimRight(m.String(), "\n"), string(d)
}

// jsonNumber keeps NaN (no limit) out of JSON, which cannot carry it.
func jsonNumber(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

// maxSummaryLines bounds a summary's list; the count stays exact.
const maxSummaryLines = 30

// composeSummary rewrites a summary's subject and text for members
// notifications, lines being the listed ones.
func composeSummary(kind byte, members uint32, lines []string, windowNs int64, window time.Duration) (subject, text string) {
	from, to := formatTime(windowNs), time.Unix(0, windowNs).Add(window).In(cst).Format("15:04")
	if kind == 'b' {
		subject = fmt.Sprintf("【补报汇总】通讯恢复后补报 %d 条历史报警", members)
	} else {
		subject = fmt.Sprintf("【报警泛滥】%s–%s 另有 %d 条报警", from, to, members)
	}
	text = strings.Join(lines, "\n")
	if extra := int(members) - len(lines); extra > 0 {
		text += fmt.Sprintf("\n…另有 %d 条，详见报警列表", extra)
	}
	return subject, text
}
