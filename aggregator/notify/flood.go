package notify

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// floodRows turns fresh candidates into outbox rows. Within one flood
// window (aligned to multiples of its length) a recipient gets its first
// Limit alarm notifications one by one; the rest, and every back-filled
// alarm, are stored 'suppressed' and listed in one summary per recipient
// and window, due when the window ends.
func (n *Notifier) floodRows(ctx context.Context, cands []candidate, now time.Time) ([]store.OutboxRow, error) {
	if len(cands) == 0 {
		return nil, nil
	}
	window := n.cfg.Flood.Window
	start := now.Truncate(window).UnixNano()
	counts, err := n.outbox.OutboxAlarmCounts(ctx, start)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(cands, func(a, b candidate) int { return int(sign(a.alarm.RaisedNs - b.alarm.RaisedNs)) })
	var rows []store.OutboxRow
	summaries := map[string]*store.OutboxRow{}
	var order []string
	nowNs := now.UnixNano()
	for _, c := range cands {
		subject, text, markdown, data := composeAlarm(c)
		row := store.OutboxRow{ID: c.id, State: store.OutboxPending, Kind: store.OutboxAlarm, Recipient: c.recipient,
			Alarm: c.alarm.Key(), Step: uint8(c.step), Subject: subject, Text: text, Markdown: markdown, Data: data,
			DecidedNs: nowNs, DueNs: nowNs, Version: n.version(0)}
		kind, reason := byte(0), ""
		switch {
		case c.alarm.Backfill:
			kind, reason = 'b', "backfill"
		case counts[c.recipient] >= n.cfg.Flood.Limit:
			kind, reason = 'f', "flood"
			counts[c.recipient]++
		default:
			counts[c.recipient]++
		}
		if kind != 0 {
			row.State, row.SummaryID = store.OutboxSuppressed, n.summaryID(kind, c.recipient, start)
			if summaries[row.SummaryID] == nil {
				summaries[row.SummaryID] = &store.OutboxRow{ID: row.SummaryID, State: store.OutboxPending,
					Kind: store.OutboxSummary, Recipient: c.recipient, DecidedNs: start, DueNs: start + int64(window)}
				order = append(order, row.SummaryID)
			}
			s := summaries[row.SummaryID]
			s.Members++
			s.Text += alarmLine(c.alarm) + "\n"
			n.metrics.suppressed.WithLabelValues(reason).Inc()
		}
		rows = append(rows, row)
	}
	merged, err := n.mergeSummaries(ctx, summaries, order, start)
	if err != nil {
		return nil, err
	}
	return append(rows, merged...), nil
}

// mergeSummaries adds this poll's suppressed alarms to the summaries
// already stored for the window, rewriting them with a higher version.
func (n *Notifier) mergeSummaries(ctx context.Context, add map[string]*store.OutboxRow, order []string, start int64) ([]store.OutboxRow, error) {
	if len(order) == 0 {
		return nil, nil
	}
	stored, err := n.outbox.OutboxByID(ctx, order)
	if err != nil {
		return nil, err
	}
	var out []store.OutboxRow
	for _, id := range order {
		s := *add[id]
		lines := strings.Split(strings.TrimRight(s.Text, "\n"), "\n")
		if old, ok := stored[id]; ok {
			if old.State != store.OutboxPending {
				// Only a clock that went back reaches a closed window.
				n.logger.Warn("flood summary already delivered; alarms folded into it are not sent", "summary", id,
					"recipient", s.Recipient, "alarms", s.Members)
				continue
			}
			s.Members += old.Members
			s.Version = old.Version
			lines = append(summaryLines(old.Text), lines...)
		}
		if len(lines) > maxSummaryLines {
			lines = lines[:maxSummaryLines]
		}
		s.Subject, s.Text = composeSummary(id[0], s.Members, lines, start, n.cfg.Flood.Window)
		// Markdown joins single line breaks; a list keeps one alarm a line.
		s.Markdown = "- " + strings.ReplaceAll(s.Text, "\n", "\n- ")
		s.Data = `{"kind":"summary","members":` + itoa(int(s.Members)) + `}`
		s.Version = n.version(s.Version)
		out = append(out, s)
	}
	return out, nil
}

// summaryLines returns the listed alarms of a stored summary text.
func summaryLines(text string) []string {
	lines := strings.Split(text, "\n")
	if len(lines) > 0 && strings.HasPrefix(lines[len(lines)-1], "…") {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func sign(x int64) int64 {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}
