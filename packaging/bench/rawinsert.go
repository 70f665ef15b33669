package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// rawColumns is one block of the samples table's columns, built once: the
// limit measures ClickHouse and the driver, not building rows.
type rawColumns struct {
	site, point, text      []string
	ts                     []time.Time
	tsNs, serverNs, recvNs []int64
	value                  []float64
	vtype                  []int8
	status                 []uint32
	good, backfill         []uint8
	seq                    []uint64
}

func newRawColumns(site string, points, rows int) *rawColumns {
	return newRawMix(func(int) string { return site }, points, rows)
}

// newRawSites is newRawColumns with the rows of each 2,000 (an agent's
// batch) from the next of sites sites in turn: the mix of a writer insert
// under many agents, where each site's batch adds its own (site, point,
// minute) rows to the rollups.
func newRawSites(prefix string, sites, points, rows int) *rawColumns {
	return newRawMix(func(k int) string { return fmt.Sprintf("%s%03d", prefix, k/2000%sites) }, points, rows)
}

func newRawMix(site func(row int) string, points, rows int) *rawColumns {
	c := &rawColumns{}
	base := time.Now().Add(-time.Hour).UnixNano()
	recv := time.Now().UnixNano()
	for k := range rows {
		ts := base + int64(k/points)*int64(100*time.Millisecond)
		c.site = append(c.site, site(k))
		c.point = append(c.point, pointID(k%points))
		c.text = append(c.text, "")
		c.ts = append(c.ts, time.Unix(0, ts).UTC())
		c.tsNs = append(c.tsNs, ts)
		c.serverNs = append(c.serverNs, ts)
		c.recvNs = append(c.recvNs, recv)
		c.value = append(c.value, float64(k%1000)/10)
		c.vtype = append(c.vtype, 1)
		c.status = append(c.status, 0)
		c.good = append(c.good, 1)
		c.backfill = append(c.backfill, 0)
		c.seq = append(c.seq, uint64(k/2000+1))
	}
	return c
}

// rawInsertSQL names the columns the aggregator's insert writes, in its order.
const rawInsertSQL = "INSERT INTO samples (site_id, point_id, ts, ts_ns, server_ns, recv_ns, " +
	"value, value_text, value_type, status, good, seq, backfill)"

// rawInsertLimit inserts blocks of the samples table with clickhouse-go's
// columnar appends, one insert at a time on one connection, for d: the
// rate the aggregator's own inserts are compared with.
func rawInsertLimit(ctx context.Context, conn driver.Conn, block *rawColumns, d time.Duration) (float64, error) {
	cols := []any{block.site, block.point, block.ts, block.tsNs, block.serverNs, block.recvNs,
		block.value, block.text, block.vtype, block.status, block.good, block.seq, block.backfill}
	rows := 0
	start := time.Now()
	for time.Since(start) < d {
		b, err := conn.PrepareBatch(ctx, rawInsertSQL)
		if err != nil {
			return 0, fmt.Errorf("prepare: %w", err)
		}
		for i, col := range cols {
			if err := b.Column(i).Append(col); err != nil {
				b.Abort()
				return 0, fmt.Errorf("column %d: %w", i, err)
			}
		}
		if err := b.Send(); err != nil {
			return 0, fmt.Errorf("send: %w", err)
		}
		rows += len(block.site)
	}
	return float64(rows) / time.Since(start).Seconds(), nil
}
