package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// TableAlarmActions is the audit trail of what operators did with alarms:
// acknowledgements with cause and measures, shelving, closing.
const TableAlarmActions = "alarm_actions"

// Alarm actions, as the action column names them.
const (
	ActionAck      = "ack"
	ActionShelve   = "shelve"
	ActionUnshelve = "unshelve"
	ActionClose    = "close"
	ActionComment  = "comment"
)

// alarmActionsDDL: one row per action, never updated; the state of an
// alarm's disposition is folded from its rows in time order. action_id
// (random per action) keeps two actions in the same nanosecond apart while
// a re-sent insert of the same action collapses on merge.
func alarmActionsDDL() string {
	return `CREATE TABLE IF NOT EXISTS alarm_actions (
    site_id      String,
    point_id     String,
    condition    String,
    raised_ns    Int64,
    action       Enum8('ack' = 1, 'shelve' = 2, 'unshelve' = 3, 'close' = 4, 'comment' = 5),
    at_ns        Int64,
    user         String,
    park         String,
    cause        String,
    measures     String,
    reason       String,
    until_ns     Int64,
    remote_addr  String,
    action_id    String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(toDateTime(intDiv(at_ns, 1000000000), 'UTC'))
ORDER BY (site_id, point_id, condition, raised_ns, at_ns, action_id)`
}

// AlarmKey identifies an alarm: the key of alarm_events.
type AlarmKey struct {
	SiteID    string
	PointID   string // "" for a site-wide alarm
	Condition string
	RaisedNs  int64
}

// AlarmAction is one row of alarm_actions.
type AlarmAction struct {
	Key        AlarmKey
	Action     string // one of the Action constants
	AtNs       int64
	User       string
	Park       string
	Cause      string
	Measures   string
	Reason     string
	UntilNs    int64 // end of a shelve, else 0
	RemoteAddr string
	ActionID   string
}

const insertAlarmActions = "INSERT INTO alarm_actions (site_id, point_id, condition, raised_ns, action, at_ns, " +
	"user, park, cause, measures, reason, until_ns, remote_addr, action_id)"

// SaveAlarmAction records one action.
func (s *Store) SaveAlarmAction(ctx context.Context, a AlarmAction) error {
	switch a.Action {
	case ActionAck, ActionShelve, ActionUnshelve, ActionClose, ActionComment:
	default:
		return permanent(fmt.Errorf("insert alarm action: unknown action %q", a.Action))
	}
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	batch, err := conn.PrepareBatch(ctx, insertAlarmActions)
	if err != nil {
		return fmt.Errorf("insert alarm action: prepare: %w", err)
	}
	defer batch.Abort()
	k := a.Key
	if err := batch.Append(k.SiteID, k.PointID, k.Condition, k.RaisedNs, a.Action, a.AtNs, a.User, a.Park,
		a.Cause, a.Measures, a.Reason, a.UntilNs, a.RemoteAddr, a.ActionID); err != nil {
		return permanent(fmt.Errorf("insert alarm action: %w", err))
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert alarm action: %w", err)
	}
	return nil
}

// Acknowledged says, for each key, whether the alarm has an 'ack' or a
// 'close' row.
func (s *Store) Acknowledged(ctx context.Context, keys []AlarmKey) (map[AlarmKey]bool, error) {
	out := make(map[AlarmKey]bool, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	raised := make([]int64, 0, len(keys))
	for _, k := range keys {
		out[k] = false
		raised = append(raised, k.RaisedNs)
	}
	found, err := s.readActedKeys(ctx, actedKeys{what: "read acknowledgements", actions: []string{ActionAck, ActionClose},
		sites: keySites(keys), where: "raised_ns IN ?", whereArgs: []any{inSet(slices.Compact(slices.Sorted(slices.Values(raised))))}})
	if err != nil {
		return nil, err
	}
	for _, k := range found {
		if _, asked := out[k]; asked {
			out[k] = true
		}
	}
	return out, nil
}

// inSet binds xs as the parenthesised list of an IN: a plain slice binds
// as an array, which ClickHouse 18.16 refuses on the right of IN.
func inSet[T any](xs []T) clickhouse.GroupSet {
	vals := make([]any, len(xs))
	for i, x := range xs {
		vals[i] = x
	}
	return clickhouse.GroupSet{Value: vals}
}
