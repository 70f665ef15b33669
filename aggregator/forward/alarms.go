package forward

import (
	"context"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// alarmOverlap is how far back each read of alarm_events reaches before
// the cursor, for rows written with an evaluated_at a little in the past;
// forward_alarms keeps them from being sent twice.
const alarmOverlap = time.Minute

// alarmSettle is how long after a second its alarm rows are read.
const alarmSettle = 2 * time.Second

// alarmPage is how many alarm rows one read returns, and alarmPages how
// many reads one pass makes: a backlog of alarms is sent 50,000 rows a
// second beside the live periods, not in one pass that holds them up.
var alarmPage, alarmPages = 10000, 5

// alarmWindow is the span of evaluated_at a pass reads, and how far the
// passes have read it.
type alarmWindow struct {
	from, to time.Time
	after    *store.AlarmRowPos
}

// sendAlarms sends the start and the end of every alarm written since the
// cursor, in the order they were written, page by page up to the settled
// second; a window larger than a pass reads goes on at the next pass,
// after the last row read. An alarm whose raise row was merged away
// before it was read gets its start sent before its end. (The cursor once
// moved to the last row of a full page; a page of one second, a flood or
// a restart's rows in one insert, then read the same page again at every
// pass, and alarms stopped being forwarded for good.)
func (r *runner) sendAlarms(ctx context.Context, now time.Time) error {
	if r.t.Dest[KindAlarm] == "" || now.Sub(r.alarmAt) < time.Second {
		return nil
	}
	r.alarmAt = now
	w := r.alarmWin
	if w == nil {
		to := now.Add(-alarmSettle).Truncate(time.Second)
		if !to.After(time.Unix(0, r.alarmNs)) {
			return nil
		}
		w = &alarmWindow{from: time.Unix(0, r.alarmNs).Add(-alarmOverlap), to: to}
		r.alarmWin = w
	}
	for range alarmPages {
		rows, err := r.st.AlarmRowsEvaluated(ctx, w.from, w.to, w.after, alarmPage)
		if err != nil {
			return err
		}
		if err := r.sendAlarmRows(ctx, rows); err != nil {
			return err
		}
		if len(rows) < alarmPage {
			r.alarmNs, r.alarmWin = w.to.UnixNano(), nil
			return r.saveCursor(ctx, KindAlarm, r.alarmNs, nil)
		}
		last := rows[len(rows)-1].Pos()
		w.after = &last
		// Every row of an earlier second is read: a restart may begin there.
		r.alarmNs = max(r.alarmNs, last.EvaluatedAt.UnixNano())
	}
	return r.saveCursor(ctx, KindAlarm, r.alarmNs, nil)
}

// sendAlarmRows sends the starts and ends of rows not sent yet.
func (r *runner) sendAlarmRows(ctx context.Context, rows []store.AlarmRow) error {
	if len(rows) == 0 {
		return nil
	}
	lo, hi := rows[0].RaisedNs, rows[0].RaisedNs
	for _, row := range rows {
		lo, hi = min(lo, row.RaisedNs), max(hi, row.RaisedNs)
	}
	sent, err := r.st.ForwardedAlarmKeys(ctx, r.t.Name, lo, hi)
	if err != nil {
		return err
	}
	for _, row := range rows {
		if err := r.sendAlarm(ctx, row.AlarmEvent, false, sent); err != nil {
			return err
		}
		if !row.Active {
			if err := r.sendAlarm(ctx, row.AlarmEvent, true, sent); err != nil {
				return err
			}
		}
	}
	return nil
}

// sendAlarm sends the start or end of e unless sent already has it, and
// records it as sent. Alarms of sites or points without a code are not
// reported.
func (r *runner) sendAlarm(ctx context.Context, e store.AlarmEvent, end bool, sent map[string]bool) error {
	phase := "start"
	if end {
		phase = "end"
	}
	key := idempotencyKey(r.t.Name, KindAlarm, phase, e.SiteID, e.PointID, e.Condition, e.RaisedNs)
	if sent[key] {
		return nil
	}
	si := r.reg.sites[e.SiteID]
	if si == nil {
		return nil
	}
	pt, ok := si.points[e.PointID]
	if e.PointID != "" && !ok {
		return nil
	}
	hazard := pt.HazardCode
	if hazard == "" && e.HazardCode != "" {
		hazard = si.hazardCode(e.HazardCode)
	}
	a := &Alarm{Key: key, PointID: e.PointID, Code: pt.Code, Name: pt.Name, Condition: e.Condition, Priority: e.Priority,
		End: end, RaisedAt: time.Unix(0, e.RaisedNs), Value: e.Value, Limit: e.Limit, Peak: e.Peak, ClearValue: e.ClearValue,
		EndReason: e.EndReason, Unit: e.Unit, HazardCode: hazard, Equipment: e.Equipment, Backfill: e.Backfill}
	at := a.RaisedAt
	if end {
		a.ClearedAt = time.Unix(0, e.ClearedNs)
		at = a.ClearedAt
	}
	m := &Message{Kind: KindAlarm, Key: key, Time: at, Enterprise: si.ent, Alarm: a}
	var values []Value
	if e.PointID != "" {
		values = []Value{{PointID: e.PointID}}
	}
	if err := r.sendOrGap(ctx, m, e.RaisedNs, e.ClearedNs, values); err != nil {
		return err
	}
	sent[key] = true
	return r.st.SaveForwardedAlarms(ctx, []store.ForwardedAlarm{{Target: r.t.Name, SiteID: e.SiteID, PointID: e.PointID,
		Condition: e.Condition, RaisedNs: e.RaisedNs, End: end, Key: key}})
}

// hazardCode is the province's code of a local hazard source code.
func (si *siteInfo) hazardCode(local string) string {
	for _, h := range si.base.Hazards {
		if h.LocalCode == local {
			return h.Code
		}
	}
	return local
}
