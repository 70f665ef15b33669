package store

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Outbox states and kinds (notification_outbox).
const (
	OutboxPending    = "pending"
	OutboxSent       = "sent"
	OutboxFailed     = "failed"
	OutboxSuppressed = "suppressed"

	OutboxAlarm   = "alarm"
	OutboxSummary = "summary"
)

// OutboxRow is one state of one notification.
type OutboxRow struct {
	ID        string
	State     string
	Kind      string
	Recipient string
	Alarm     AlarmKey // zero for a summary
	Step      uint8
	SummaryID string // the flood summary a suppressed notification went into
	Members   uint32 // notifications a summary stands for
	Subject   string
	Text      string
	Markdown  string
	Data      string // JSON for the generic webhook
	DecidedNs int64  // fixed for the id's lifetime: it picks the partition
	DueNs     int64
	Attempts  uint32
	Error     string
	Version   uint64 // larger replaces smaller
}

const outboxColumns = `id, state, kind, recipient, site_id, point_id, condition, raised_ns, step, summary_id, members,
    subject, text, markdown, data, decided_ns, due_ns, attempts, error, version`

// SaveOutbox writes notification states; per id the largest version wins.
func (s *Store) SaveOutbox(ctx context.Context, rows []OutboxRow) error {
	if len(rows) == 0 {
		return nil
	}
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO notification_outbox ("+outboxColumns+")")
	if err != nil {
		return fmt.Errorf("save outbox: prepare: %w", err)
	}
	defer batch.Abort()
	for _, r := range rows {
		if err := batch.Append(r.ID, r.State, r.Kind, r.Recipient, r.Alarm.SiteID, r.Alarm.PointID, r.Alarm.Condition,
			r.Alarm.RaisedNs, r.Step, r.SummaryID, r.Members, r.Subject, r.Text, r.Markdown, r.Data, r.DecidedNs,
			r.DueNs, r.Attempts, r.Error, r.Version); err != nil {
			return permanent(fmt.Errorf("save outbox: %w", err))
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("save outbox (%d): %w", len(rows), err)
	}
	return nil
}

// OutboxByID returns the current state of those of ids that exist.
func (s *Store) OutboxByID(ctx context.Context, ids []string) (map[string]OutboxRow, error) {
	out := map[string]OutboxRow{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.queryOutbox(ctx, "id IN ?", inSet(ids))
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.ID] = r
	}
	return out, nil
}

// PendingOutbox returns the pending notifications due by dueNs, oldest
// decision first.
func (s *Store) PendingOutbox(ctx context.Context, dueNs int64) ([]OutboxRow, error) {
	return s.queryOutbox(ctx, "state = 'pending' AND due_ns <= ?", dueNs)
}

// OutboxPendingCount counts the pending notifications.
func (s *Store) OutboxPendingCount(ctx context.Context) (uint64, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return 0, err
	}
	var n uint64
	if err := conn.QueryRow(finalCtx(ctx), "SELECT count() FROM notification_outbox FINAL WHERE state = 'pending'").Scan(&n); err != nil {
		return 0, fmt.Errorf("count pending outbox: %w", err)
	}
	return n, nil
}

// OutboxAlarmCounts counts per recipient the alarm notifications decided
// since sinceNs, sent or suppressed alike, less those folded into a
// back-fill summary (summary_id starting with 'b'): the flood accounting
// of live alarms.
func (s *Store) OutboxAlarmCounts(ctx context.Context, sinceNs int64) (map[string]int, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	err = queryEach(finalCtx(ctx), conn, "outbox counts", func(rows driver.Rows) error {
		var r string
		var n uint64
		if err := rows.Scan(&r, &n); err != nil {
			return err
		}
		out[r] = int(n)
		return nil
	}, `SELECT recipient, count() FROM notification_outbox FINAL
WHERE kind = 'alarm' AND decided_ns >= ? AND substring(summary_id, 1, 1) != 'b' GROUP BY recipient`, sinceNs)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) queryOutbox(ctx context.Context, where string, args ...any) ([]OutboxRow, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	return queryAll(finalCtx(ctx), conn, "read outbox", func(rows driver.Rows) (OutboxRow, error) {
		var r OutboxRow
		err := rows.Scan(&r.ID, &r.State, &r.Kind, &r.Recipient, &r.Alarm.SiteID, &r.Alarm.PointID, &r.Alarm.Condition,
			&r.Alarm.RaisedNs, &r.Step, &r.SummaryID, &r.Members, &r.Subject, &r.Text, &r.Markdown, &r.Data,
			&r.DecidedNs, &r.DueNs, &r.Attempts, &r.Error, &r.Version)
		return r, err
	}, "SELECT "+outboxColumns+" FROM notification_outbox FINAL WHERE "+where+" ORDER BY decided_ns, id", args...)
}
