package store

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
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
	out := map[string]Heartbeat{}
	err = queryEach(ctx, conn, "last heartbeats", func(rows driver.Rows) error {
		var site string
		var hb Heartbeat
		if err := rows.Scan(&site, &hb.LastNs, &hb.Frozen); err != nil {
			return err
		}
		out[site] = hb
		return nil
	}, "SELECT site_id, max(time_ns), argMaxIf(frozen_points, time_ns, heartbeat = 1) FROM agents WHERE time >= ? AND connected = 1 GROUP BY site_id", since.UTC())
	if err != nil {
		return nil, err
	}
	return out, nil
}
