package store

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// TablePointLiveness holds the minutes in which an agent knew a point
// alive without a change to send (a steady value: OPC UA reports changes
// only), so the online rate counts them.
const TablePointLiveness = "point_liveness"

// pointLivenessDDL: one row per point and minute. A batch stored twice
// gives the same rows, which collapse on merge; counts of minutes use
// uniqExact or FINAL.
func pointLivenessDDL(caps Capabilities) string {
	lc := "String"
	if caps.LowCardinality {
		lc = "LowCardinality(String)"
	}
	return `CREATE TABLE IF NOT EXISTS point_liveness (
    site_id  ` + lc + `,
    point_id ` + lc + `,
    minute   DateTime('UTC')
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (site_id, point_id, minute)`
}

const insertLivenessSQL = "INSERT INTO point_liveness (site_id, point_id, minute)"

func (s *Store) insertLiveness(ctx context.Context, conn driver.Conn, batches []*Batch, n int) error {
	sites := make([]string, 0, n)
	points := make([]string, 0, n)
	minutes := make([]time.Time, 0, n)
	for _, b := range batches {
		for _, l := range b.Liveness {
			minute := clampDateTime(l.GetMinuteNs())
			for _, p := range l.GetPointIds() {
				sites = append(sites, b.SiteID)
				points = append(points, p)
				minutes = append(minutes, minute)
			}
		}
	}
	batch, err := conn.PrepareBatch(ctx, insertLivenessSQL)
	if err != nil {
		return fmt.Errorf("insert liveness: prepare: %w", err)
	}
	defer batch.Abort()
	for i, col := range []any{sites, points, minutes} {
		if err := batch.Column(i).Append(col); err != nil {
			return permanent(fmt.Errorf("insert liveness: column %d: %w", i, err))
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert liveness (%d): %w", n, err)
	}
	return nil
}

// livenessRows counts the rows the batches' liveness records make.
func livenessRows(batches []*Batch) int {
	n := 0
	for _, b := range batches {
		for _, l := range b.Liveness {
			n += len(l.GetPointIds())
		}
	}
	return n
}
