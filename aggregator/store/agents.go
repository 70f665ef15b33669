package store

import (
	"context"
	"fmt"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// TableAgents keeps every agent heartbeat: connection, backlog, drain rate
// and sources. The latest row per site is the agent's current state.
const TableAgents = "agents"

func agentsDDL(caps Capabilities) string {
	lc := "String"
	if caps.LowCardinality {
		lc = "LowCardinality(String)"
	}
	return `CREATE TABLE IF NOT EXISTS agents (
    site_id           ` + lc + `,
    time              DateTime('UTC'),
    time_ns           Int64,
    connected         UInt8,
    agent_version     ` + lc + `,
    backlog_batches   UInt64,
    backlog_bytes     UInt64,
    oldest_ns         Int64,
    drain_rate        Float64,
    samples_read      UInt64,
    samples_acked     UInt64,
    sources_total     UInt16,
    sources_connected UInt16,
    heartbeat         UInt8,
    frozen_points     Array(String),
    cert_not_after    DateTime('UTC')
) ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (site_id, time_ns)`
}

const insertAgentSQL = "INSERT INTO agents (site_id, time, time_ns, connected, agent_version, backlog_batches, backlog_bytes, " +
	"oldest_ns, drain_rate, samples_read, samples_acked, sources_total, sources_connected, heartbeat, frozen_points, cert_not_after)"

// AgentStatus is one heartbeat row. Status is nil for a row that only
// records a connect or disconnect.
type AgentStatus struct {
	SiteID       string
	AgentVersion string
	Connected    bool
	Time         time.Time
	Status       *lifelinev1.Status
}

// SaveAgentStatus appends heartbeat rows.
func (s *Store) SaveAgentStatus(ctx context.Context, rows []AgentStatus) error {
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	batch, err := conn.PrepareBatch(ctx, insertAgentSQL)
	if err != nil {
		return fmt.Errorf("insert agent status: prepare: %w", err)
	}
	defer batch.Abort()
	for _, r := range rows {
		st := r.Status
		var up, total uint16
		for _, src := range st.GetSources() {
			total++
			if src.GetConnected() {
				up++
			}
		}
		var connected, heartbeat uint8
		if r.Connected {
			connected = 1
		}
		if st != nil {
			heartbeat = 1
		}
		frozen := st.GetFrozenPoints()
		if frozen == nil {
			frozen = []string{}
		}
		if err := batch.Append(r.SiteID, r.Time.UTC(), r.Time.UnixNano(), connected, r.AgentVersion,
			st.GetBacklogBatches(), st.GetBacklogBytes(), st.GetOldestNs(), st.GetDrainRate(),
			st.GetSamplesRead(), st.GetSamplesAcked(), total, up, heartbeat, frozen, clampDateTime(st.GetCertNotAfterNs())); err != nil {
			return permanent(fmt.Errorf("insert agent status: %w", err))
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert agent status (%d rows): %w", len(rows), err)
	}
	return nil
}
