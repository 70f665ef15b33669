package store_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// The batches of several sites come back from one read, each site's in
// sequence order and only those in its own range, each batch whole and
// with its own site; the latest sequence number and checkpoint rows of
// several sites likewise.
func TestReplaySitesReadsEachSitesRange(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	ts := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).UnixNano()
	var batches []*store.Batch
	for _, site := range []string{"S1", "S2", "S3"} {
		for seq := uint64(1); seq <= 4; seq++ {
			b := &store.Batch{SiteID: site, Seq: seq}
			for p := range 2 {
				b.Samples = append(b.Samples, &lifelinev1.Sample{PointId: fmt.Sprintf("P%d", p),
					SourceTimeNs: ts + int64(seq)*1e9, Value: &lifelinev1.Sample_Number{Number: float64(seq)}})
			}
			batches = append(batches, b)
		}
	}
	if err := s.Insert(ctx, batches); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := s.ReplaySites(ctx, map[string]store.SeqRange{"S3": {First: 4, Last: 9}, "S1": {First: 2, Last: 3}, "S4": {First: 1, Last: 1}},
		func(b *store.Batch) error {
			got = append(got, fmt.Sprintf("%s/%d:%d", b.SiteID, b.Seq, len(b.Samples)))
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"S1/2:2", "S1/3:2", "S3/4:2"}; !slices.Equal(got, want) {
		t.Errorf("replayed %v, want %v", got, want)
	}
	latest, err := s.LatestSeqs(ctx, []string{"S1", "S3", "S4"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]uint64{"S1": 4, "S3": 4}; !maps.Equal(latest, want) {
		t.Errorf("latest %v, want %v", latest, want)
	}
	err = s.SaveAlarmStates(ctx, []store.AlarmState{{SiteID: "S1", State: "a"}, {SiteID: "S2", PointID: "P0", State: "b"}, {SiteID: "S3", State: "c"}})
	if err != nil {
		t.Fatal(err)
	}
	states, err := s.LoadSitesAlarmStates(ctx, []string{"S1", "S2", "S4"})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, st := range states {
		keys = append(keys, st.SiteID+"/"+st.PointID+"="+st.State)
	}
	slices.Sort(keys)
	if want := []string{"S1/=a", "S2/P0=b"}; !slices.Equal(keys, want) {
		t.Errorf("checkpoint rows %v, want %v", keys, want)
	}
}

// A read-back bounded by its batches' source times reads the granules of
// that span, not the site's whole history, and returns the same batches:
// seq is not in the samples' sorting key, so an unbounded read-back reads
// the seq of every row the site ever sent (a month of a 10,000-point plant
// at 1 Hz is 26 million rows).
func TestReplayBoundedBySourceTimeReadsItsSpan(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).UnixNano()
	const points, perPoint, batches = 10, 1000, 100
	var all []*store.Batch
	for seq := uint64(1); seq <= batches; seq++ {
		b := &store.Batch{SiteID: "HIST", Seq: seq}
		for p := range points {
			for i := range perPoint {
				ts := start + (int64(seq-1)*perPoint+int64(i))*1e9
				b.Samples = append(b.Samples, &lifelinev1.Sample{PointId: fmt.Sprintf("P%d", p), SourceTimeNs: ts,
					Value: &lifelinev1.Sample_Number{Number: float64(i)}})
			}
		}
		all = append(all, b)
	}
	if err := s.Insert(ctx, all); err != nil {
		t.Fatal(err)
	}
	replay := func(r store.SeqRange) (got []string, read uint64) {
		pctx := clickhouse.Context(ctx, clickhouse.WithProgress(func(p *clickhouse.Progress) { read += p.Rows }))
		err := s.ReplaySites(pctx, map[string]store.SeqRange{"HIST": r}, func(b *store.Batch) error {
			got = append(got, fmt.Sprintf("%d:%d", b.Seq, len(b.Samples)))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got, read
	}
	var bounded store.SeqRange
	for _, b := range all[batches-2:] {
		from, to := b.Samples[0].GetSourceTimeNs(), b.Samples[len(b.Samples)-1].GetSourceTimeNs()
		bounded = bounded.Widen(b.Seq, from, to)
	}
	wide, wideRead := replay(store.SeqRange{First: bounded.First, Last: bounded.Last})
	narrow, narrowRead := replay(bounded)
	want := []string{"99:10000", "100:10000"}
	if !slices.Equal(wide, want) || !slices.Equal(narrow, want) {
		t.Fatalf("replayed %v unbounded and %v bounded, want %v", wide, narrow, want)
	}
	t.Logf("rows read: %d unbounded, %d bounded by source time", wideRead, narrowRead)
	if total := uint64(points * perPoint * batches); wideRead < total/2 || narrowRead > total/5 {
		t.Errorf("read %d rows unbounded and %d bounded of the site's %d: the bound should read a fifth or less (a granule or two of each point)", wideRead, narrowRead, total)
	}
}

// A range widened by batches covers every batch's seq and source times; a
// batch without samples widens only the seqs, and a range that never saw a
// span stays unbounded.
func TestSeqRangeWiden(t *testing.T) {
	var r store.SeqRange
	r = r.Widen(7, 500, 900).Widen(5, 0, 0).Widen(9, 100, 400)
	if want := (store.SeqRange{First: 5, Last: 9, FromNs: 100, ToNs: 900}); r != want {
		t.Errorf("widened to %+v, want %+v", r, want)
	}
	if got := (store.SeqRange{}).Widen(3, 0, 0).Widen(4, 0, 0); got.ToNs != 0 || got.First != 3 || got.Last != 4 {
		t.Errorf("batches without samples gave %+v, want seqs 3-4 unbounded", got)
	}
	merged := store.SeqRange{First: 2, Last: 3, FromNs: 50, ToNs: 60}.Merge(r)
	if want := (store.SeqRange{First: 2, Last: 9, FromNs: 50, ToNs: 900}); merged != want {
		t.Errorf("merged to %+v, want %+v", merged, want)
	}
}
