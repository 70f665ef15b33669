package store

import (
	"context"
	"fmt"
	"time"
)

// Heartbeat is what a site's agent last said about itself.
type Heartbeat struct {
	// LastNs is the aggregator time (Unix ns) of the newest row saying the
	// agent is connected: a sign of life even when no data changes.
	LastNs int64
	// Frozen lists the points the agent's latest heartbeat reported good
	// but frozen.
	Frozen []string
}

// LastHeartbeats returns, per site with a connected agents row since since,
// its latest heartbeat.
func (s *Store) LastHeartbeats(ctx context.Context, since time.Time) (map[string]Heartbeat, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, "SELECT site_id, max(time_ns), argMaxIf(frozen_points, time_ns, heartbeat = 1) FROM agents WHERE time >= ? AND connected = 1 GROUP BY site_id", since.UTC())
	if err != nil {
		return nil, fmt.Errorf("last heartbeats: %w", err)
	}
	defer rows.Close()
	out := map[string]Heartbeat{}
	for rows.Next() {
		var site string
		var hb Heartbeat
		if err := rows.Scan(&site, &hb.LastNs, &hb.Frozen); err != nil {
			return nil, fmt.Errorf("last heartbeats: %w", err)
		}
		out[site] = hb
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("last heartbeats: %w", err)
	}
	return out, nil
}
