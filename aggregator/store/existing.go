package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// SampleKey is a sample's identity within a site.
type SampleKey struct {
	PointID string
	TsNs    int64
}

// existingChunk bounds the keys looked up by one query.
const existingChunk = 5000

// Existing returns which of keys ClickHouse already holds for the site. It
// reads the primary key only, so it is cheap for the few hundred or
// thousand values an OPC UA server re-sends after a resubscribe.
func (s *Store) Existing(ctx context.Context, siteID string, keys []SampleKey) (map[SampleKey]struct{}, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	found := make(map[SampleKey]struct{})
	for start := 0; start < len(keys); start += existingChunk {
		chunk := keys[start:min(start+existingChunk, len(keys))]
		var b strings.Builder
		b.WriteString("SELECT point_id, ts_ns FROM samples WHERE site_id = ? AND (point_id, ts_ns) IN (")
		for i, k := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			// Server-side parameters do not exist on every server version,
			// so the tuples are literals, escaped as ClickHouse strings.
			b.WriteString("('")
			b.WriteString(escapeString(k.PointID))
			b.WriteString("',")
			b.WriteString(strconv.FormatInt(k.TsNs, 10))
			b.WriteByte(')')
		}
		b.WriteByte(')')
		rows, err := conn.Query(ctx, b.String(), siteID)
		if err != nil {
			return nil, fmt.Errorf("look up stored samples: %w", err)
		}
		for rows.Next() {
			var k SampleKey
			if err := rows.Scan(&k.PointID, &k.TsNs); err != nil {
				rows.Close()
				return nil, fmt.Errorf("look up stored samples: %w", err)
			}
			found[k] = struct{}{}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("look up stored samples: %w", err)
		}
	}
	return found, nil
}

func escapeString(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
}
