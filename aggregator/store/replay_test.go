package store_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

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
