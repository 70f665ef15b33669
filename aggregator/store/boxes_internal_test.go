package store

import (
	"fmt"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// A LowCardinality column takes an insert's site, point and buffer IDs
// without an allocation per row once the points were seen: handed the
// []string, clickhouse-go boxed every row (100,000 allocations here).
func TestLowCardinalityAppendAllocations(t *testing.T) {
	const points, rows = 1000, 20_000
	var batches []*Batch
	for seq := range rows / 2000 {
		b := &Batch{SiteID: "站点-1", BufferID: "buf", Seq: uint64(seq + 1)}
		for i := range 2000 {
			b.Samples = append(b.Samples, &lifelinev1.Sample{PointId: fmt.Sprintf("T%03d.温度", i%points),
				Value: &lifelinev1.Sample_Number{Number: float64(i)}})
		}
		batches = append(batches, b)
	}
	c, boxes := new(columns), new(boxCache)
	appendAll := func() {
		c.reset()
		for _, b := range batches {
			c.add(b, false, boxes)
		}
		cols := c.slices(true)
		for _, i := range []int{0, 1, 13} {
			col, err := column.Type("LowCardinality(String)").Column("c", nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := col.Append(cols[i]); err != nil {
				t.Fatalf("column %d: %v", i, err)
			}
			if col.Rows() != rows {
				t.Fatalf("column %d: %d rows, want %d", i, col.Rows(), rows)
			}
		}
	}
	appendAll() // boxes the points once
	allocs := testing.AllocsPerRun(5, appendAll)
	if perRow := allocs / rows; perRow > 0.05 {
		t.Errorf("%.0f allocations for %d rows (%.2f a row), want well under one a row", allocs, rows, perRow)
	}

	// The boxes hold the strings themselves: a column reads back the IDs.
	cols := c.slices(true)
	if got := cols[1].([]any)[1001]; got != "T001.温度" {
		t.Errorf("point of row 1001 = %v, want T001.温度", got)
	}
	if got := cols[0].([]any)[rows-1]; got != "站点-1" {
		t.Errorf("site of the last row = %v", got)
	}
}
