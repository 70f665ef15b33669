package store

import (
	"context"
	"fmt"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Committed returns the site's committed sequence numbers at or after from,
// merged into ordered, inclusive ranges.
func (s *Store) Committed(ctx context.Context, siteID string, from uint64) ([]*lifelinev1.SeqRange, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx,
		"SELECT DISTINCT seq FROM ingest_batches WHERE site_id = ? AND seq >= ? ORDER BY seq",
		siteID, from)
	if err != nil {
		return nil, fmt.Errorf("committed batches of %s: %w", siteID, err)
	}
	defer rows.Close()
	var ranges []*lifelinev1.SeqRange
	var cur *lifelinev1.SeqRange
	for rows.Next() {
		var seq uint64
		if err := rows.Scan(&seq); err != nil {
			return nil, fmt.Errorf("committed batches of %s: %w", siteID, err)
		}
		if cur != nil && seq == cur.Last+1 {
			cur.Last = seq
			continue
		}
		if cur != nil && seq <= cur.Last { // DISTINCT and ORDER BY make this unreachable
			continue
		}
		cur = &lifelinev1.SeqRange{First: seq, Last: seq}
		ranges = append(ranges, cur)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("committed batches of %s: %w", siteID, err)
	}
	return ranges, nil
}
