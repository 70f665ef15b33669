package store_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// A batch carrying only a gap record is stored in gaps and enters the
// ledger; inserting it again (a lost ack) leaves one gap row after FINAL.
func TestGapsStoredOnceAndCommitted(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	from := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	gap := &lifelinev1.Gap{PointIds: []string{"T101.LT", "储罐2"}, FromNs: from.UnixNano(), ToNs: from.Add(time.Hour).UnixNano(), Samples: 7200, Reason: "buffer_full"}
	b := &store.Batch{SiteID: "s1", Seq: 9, Gaps: []*lifelinev1.Gap{gap}}
	for range 2 {
		if err := s.Insert(ctx, []*store.Batch{b}); err != nil {
			t.Fatal(err)
		}
	}
	var (
		n       uint64
		points  []string
		samples uint64
		reason  string
		fromTs  time.Time
	)
	if err := s.Conn().QueryRow(ctx, "SELECT count(), any(point_ids), any(samples), any(reason), any(from_ts) FROM gaps FINAL WHERE site_id = 's1'").
		Scan(&n, &points, &samples, &reason, &fromTs); err != nil {
		t.Fatal(err)
	}
	if n != 1 || samples != 7200 || reason != "buffer_full" || len(points) != 2 || points[1] != "储罐2" || !fromTs.Equal(from) {
		t.Fatalf("gap row: n=%d points=%v samples=%d reason=%q from=%v", n, points, samples, reason, fromTs)
	}
	ranges, err := s.Committed(ctx, store.Span{SiteID: "s1", From: 1, To: math.MaxUint64})
	if err != nil {
		t.Fatal(err)
	}
	if len(ranges) != 1 || ranges[0].GetFirst() != 9 || ranges[0].GetLast() != 9 {
		t.Fatalf("committed %v, want [9]", ranges)
	}
}

func TestSaveAgentStatus(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	now := time.Now().Truncate(time.Second)
	st := &lifelinev1.Status{BacklogBatches: 12, BacklogBytes: 4096, DrainRate: 1500.5,
		Sources: []*lifelinev1.SourceStatus{{Name: "dcs", Connected: true}, {Name: "gds", Connected: false}}}
	rows := []store.AgentStatus{
		{SiteID: "s1", AgentVersion: "1.0", Connected: true, Time: now, Status: st},
		{SiteID: "s1", AgentVersion: "1.0", Connected: false, Time: now.Add(time.Second)},
	}
	if err := s.SaveAgentStatus(ctx, rows); err != nil {
		t.Fatal(err)
	}
	var (
		connected uint8
		backlog   uint64
		total, up uint16
		rate      float64
	)
	if err := s.Conn().QueryRow(ctx, "SELECT argMax(connected, time_ns), max(backlog_batches), max(sources_total), max(sources_connected), max(drain_rate) FROM agents WHERE site_id = 's1'").
		Scan(&connected, &backlog, &total, &up, &rate); err != nil {
		t.Fatal(err)
	}
	if connected != 0 || backlog != 12 || total != 2 || up != 1 || rate != 1500.5 {
		t.Fatalf("got connected=%d backlog=%d sources=%d/%d rate=%v", connected, backlog, up, total, rate)
	}
}

func TestExisting(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	b := &store.Batch{SiteID: "s1", Seq: 1, Samples: []*lifelinev1.Sample{num("T101.LT", 100, 1), num("储罐'2", 200, 2)}}
	if err := s.Insert(ctx, []*store.Batch{b}); err != nil {
		t.Fatal(err)
	}
	found, err := s.Existing(ctx, "s1", []store.SampleKey{{"T101.LT", 100}, {"T101.LT", 101}, {"储罐'2", 200}, {"X", 100}})
	if err != nil {
		t.Fatal(err)
	}
	_, a := found[store.SampleKey{"T101.LT", 100}]
	_, c := found[store.SampleKey{"储罐'2", 200}]
	if len(found) != 2 || !a || !c {
		t.Fatalf("found %v", found)
	}
	if other, err := s.Existing(ctx, "s2", []store.SampleKey{{"T101.LT", 100}}); err != nil || len(other) != 0 {
		t.Fatalf("another site: %v %v", other, err)
	}
}
