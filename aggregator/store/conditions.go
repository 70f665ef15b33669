package store

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// TableConditionEvents holds the OPC UA servers' own alarm events (Alarms
// & Conditions), as the agents read them: one row per transition.
const TableConditionEvents = "condition_events"

// conditionEventsDDL: keyed by the server's EventId, which is new for every
// transition, so a transition re-sent by a ConditionRefresh (after an
// agent restart or a reconnect), or a batch stored twice, collapses on
// merge; read with FINAL. The version keeps the row received live
// (live = 1) over its refresh copy. Time is in the partition key but the
// same for every copy of an event.
func conditionEventsDDL(caps Capabilities) string {
	lc := "String"
	if caps.LowCardinality {
		lc = "LowCardinality(String)"
	}
	return `CREATE TABLE IF NOT EXISTS condition_events (
    site_id        ` + lc + `,
    source         ` + lc + `,
    event_id       String,
    time           DateTime('UTC'),
    time_ns        Int64,
    receive_ns     Int64,
    source_node    String,
    source_name    String,
    condition_id   String,
    condition_name String,
    event_type     ` + lc + `,
    severity       UInt16,
    message        String,
    active         UInt8,
    acked          UInt8,
    retain         UInt8,
    live           UInt8,
    recorded_at    DateTime('UTC') DEFAULT now()
) ENGINE = ReplacingMergeTree(live)
PARTITION BY toYYYYMM(time)
ORDER BY (site_id, source, event_id)`
}

const insertConditionEventsSQL = "INSERT INTO condition_events (site_id, source, event_id, time, time_ns, receive_ns, " +
	"source_node, source_name, condition_id, condition_name, event_type, severity, message, active, acked, retain, live)"

func (s *Store) insertConditionEvents(ctx context.Context, conn driver.Conn, batches []*Batch, n int) error {
	var (
		sites, sources, ids                   = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		times                                 = make([]time.Time, 0, n)
		timeNs, recvNs                        = make([]int64, 0, n), make([]int64, 0, n)
		nodes, names, conds, condNames, types = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		severities                            = make([]uint16, 0, n)
		messages                              = make([]string, 0, n)
		active, acked, retain, live           = make([]uint8, 0, n), make([]uint8, 0, n), make([]uint8, 0, n), make([]uint8, 0, n)
	)
	for _, b := range batches {
		for _, e := range b.ConditionEvents {
			sites = append(sites, b.SiteID)
			sources = append(sources, e.GetSource())
			ids = append(ids, hex.EncodeToString(e.GetEventId()))
			times = append(times, clampDateTime(e.GetTimeNs()))
			timeNs = append(timeNs, e.GetTimeNs())
			recvNs = append(recvNs, e.GetReceiveNs())
			nodes = append(nodes, e.GetSourceNode())
			names = append(names, e.GetSourceName())
			conds = append(conds, e.GetConditionId())
			condNames = append(condNames, e.GetConditionName())
			types = append(types, e.GetEventType())
			severities = append(severities, uint16(min(e.GetSeverity(), 1000)))
			messages = append(messages, e.GetMessage())
			active = append(active, b2u(e.GetActive()))
			acked = append(acked, b2u(e.GetAcked()))
			retain = append(retain, b2u(e.GetRetain()))
			live = append(live, b2u(!e.GetRefresh()))
		}
	}
	batch, err := conn.PrepareBatch(ctx, insertConditionEventsSQL)
	if err != nil {
		return fmt.Errorf("insert condition events: prepare: %w", err)
	}
	defer batch.Abort()
	cols := []any{sites, sources, ids, times, timeNs, recvNs, nodes, names, conds, condNames, types, severities, messages,
		active, acked, retain, live}
	for i, col := range cols {
		if err := batch.Column(i).Append(col); err != nil {
			return permanent(fmt.Errorf("insert condition events: column %d: %w", i, err))
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert condition events (%d): %w", n, err)
	}
	return nil
}

func conditionEventRows(batches []*Batch) int {
	n := 0
	for _, b := range batches {
		n += len(b.ConditionEvents)
	}
	return n
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
