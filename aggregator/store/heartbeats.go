package store

import (
	"context"
	"fmt"
	"time"
)

// LastHeartbeats returns, per site, the aggregator time (Unix ns) of the
// newest agents row since since that says the agent is connected: a sign
// of life even when no data changes.
func (s *Store) LastHeartbeats(ctx context.Context, since time.Time) (map[string]int64, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, "SELECT site_id, max(time_ns) FROM agents WHERE time >= ? AND connected = 1 GROUP BY site_id", since.UTC())
	if err != nil {
		return nil, fmt.Errorf("last heartbeats: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var site string
		var ns int64
		if err := rows.Scan(&site, &ns); err != nil {
			return nil, fmt.Errorf("last heartbeats: %w", err)
		}
		out[site] = ns
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("last heartbeats: %w", err)
	}
	return out, nil
}
