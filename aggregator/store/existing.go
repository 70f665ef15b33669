package store

import (
	"context"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// SampleKey is a sample's identity within a site.
type SampleKey struct {
	PointID string
	TsNs    int64
}

// existingQueryBytes bounds the text of one lookup query. ClickHouse
// refuses a query longer than max_query_size (262,144 bytes by default):
// 5,000 keys with 60-byte point ids already pass it, so the keys are split
// by the size of the query they make, not by their number.
const existingQueryBytes = 128 << 10

// Existing returns which of keys ClickHouse already holds for the site. It
// reads the primary key only, so it is cheap for the few hundred or
// thousand values an OPC UA server re-sends after a resubscribe.
func (s *Store) Existing(ctx context.Context, siteID string, keys []SampleKey) (map[SampleKey]struct{}, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	found := make(map[SampleKey]struct{})
	for len(keys) > 0 {
		query, n := existingQuery(keys, existingQueryBytes)
		keys = keys[n:]
		err := queryEach(ctx, conn, "look up stored samples", func(rows driver.Rows) error {
			var k SampleKey
			if err := rows.Scan(&k.PointID, &k.TsNs); err != nil {
				return err
			}
			found[k] = struct{}{}
			return nil
		}, query, siteID)
		if err != nil {
			return nil, err
		}
	}
	return found, nil
}

// existingQuery builds the lookup of the first keys that fit in limit bytes
// (at least one) and returns it with how many keys it covers.
func existingQuery(keys []SampleKey, limit int) (string, int) {
	var b strings.Builder
	b.WriteString("SELECT point_id, ts_ns FROM samples WHERE site_id = ? AND (point_id, ts_ns) IN (")
	n := 0
	for _, k := range keys {
		// Server-side parameters do not exist on every server version,
		// so the tuples are literals, escaped as ClickHouse strings.
		tuple := "('" + escapeString(k.PointID) + "'," + strconv.FormatInt(k.TsNs, 10) + ")"
		if n > 0 && b.Len()+len(tuple)+2 > limit {
			break
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(tuple)
		n++
	}
	b.WriteByte(')')
	return b.String(), n
}

func escapeString(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
}
