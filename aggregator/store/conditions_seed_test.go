package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// seedConditions: site S1's DCS raised LSH201 at 08:10 (acknowledged
// 08:12, cleared 08:15) and had TAH105 standing since 07:50, before the
// agent read events: that one arrived only by a ConditionRefresh. Every
// event comes twice, from a refresh after a restart and a batch re-sent.
func seedConditions(t *testing.T, ctx context.Context, s *store.Store) {
	t.Helper()
	at := func(hm string) int64 {
		v, err := time.Parse(time.DateTime, "2026-03-02 "+hm+":00")
		mustSeed(t, err)
		return v.UnixNano()
	}
	ev := func(id byte, name, hm string, sev uint32, active, acked, refresh bool) *lifelinev1.ConditionEvent {
		return &lifelinev1.ConditionEvent{EventId: []byte{0xe0, id}, Source: "dcs", SourceNode: "nsu=urn:dcs;s=" + name[:6],
			SourceName: name[:6], ConditionId: "nsu=urn:dcs;s=" + name, ConditionName: name, EventType: "i=10637",
			TimeNs: at(hm), ReceiveNs: at(hm) + 2e8, Severity: sev, Message: name + " " + hm,
			Active: active, Acked: acked, Retain: active || !acked, Refresh: refresh}
	}
	live := []*lifelinev1.ConditionEvent{
		ev(1, "LSH201.Alarm", "08:10", 700, true, false, false),
		ev(2, "LSH201.Alarm", "08:12", 700, true, true, false),
		ev(3, "LSH201.Alarm", "08:15", 100, false, true, false),
	}
	refresh := []*lifelinev1.ConditionEvent{
		ev(9, "TAH105.Alarm", "07:50", 500, true, false, true),
		ev(1, "LSH201.Alarm", "08:10", 700, true, false, true),
	}
	mustSeed(t, s.Insert(ctx, []*store.Batch{
		{SiteID: "S1", Seq: 900, ConditionEvents: live},
		{SiteID: "S1", Seq: 901, ConditionEvents: refresh},
	}))
	// The first batch again, as a stream that broke before its ack sends it.
	mustSeed(t, s.Insert(ctx, []*store.Batch{{SiteID: "S1", Seq: 900, ConditionEvents: live}}))
}
