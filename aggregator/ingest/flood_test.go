package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/metrics"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

func statusMsg(i int) *lifelinev1.AgentMessage {
	return &lifelinev1.AgentMessage{Body: &lifelinev1.AgentMessage_Status{Status: &lifelinev1.Status{
		TimeNs: time.Now().UnixNano(), SamplesRead: uint64(i)}}}
}

// Three times as many status messages from one site as the heartbeat
// buffer holds keep only that site's newest per interval: the buffer all
// sites share never fills, another
// site's heartbeats and batches are stored, and the drops are counted and
// logged as the flood they are, not as ClickHouse being unavailable.
func TestStatusFloodSpendsOnlyItsSitesQuota(t *testing.T) {
	const interval, buffer, flood = 200 * time.Millisecond, 5000, 15000
	f := startSecure(t, secSetup{limits: DefaultStreamLimits(), heartbeats: interval, maxHeartbeats: buffer, sites: []string{"FLOOD", "SITE-B"}})
	attacker, err := f.connectAs(t, f.dial(t, "FLOOD", "127.0.0.1"), "FLOOD")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range flood {
		if err := attacker.st.Send(statusMsg(i)); err != nil {
			t.Fatalf("status %d: %v", i, err)
		}
	}
	b, err := f.connectAs(t, f.dial(t, "SITE-B", "127.0.0.1"), "SITE-B")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := b.st.Send(statusMsg(i)); err != nil {
			t.Fatal(err)
		}
	}
	b.send(1, 1, time.Now().Add(-time.Minute))
	if got := b.acks(1); !got[1] {
		t.Fatal("SITE-B: no ack")
	}
	// The flood's last status is stored once its stream has read it all.
	conn := chtest.Conn(t, f.store.Config().Addr, f.store.Config().Database)
	heartbeats := func(site string) (rows, newest uint64) {
		q := "SELECT count(), max(samples_read) FROM agents WHERE site_id = ? AND heartbeat = 1"
		if err := conn.QueryRow(context.Background(), q, site).Scan(&rows, &newest); err != nil {
			t.Fatal(err)
		}
		return rows, newest
	}
	waitUntil(t, func() bool {
		_, newest := heartbeats("FLOOD")
		rows, _ := heartbeats("SITE-B")
		return newest == flood-1 && rows >= 1
	})
	intervals := uint64(time.Since(start)/interval) + 2
	if rows, _ := heartbeats("FLOOD"); rows > intervals {
		t.Fatalf("FLOOD stored %d heartbeats in %d intervals, want at most one per interval", rows, intervals)
	}
	if v := f.labelled(t, metrics.IngestHeartbeatsDroppedTotal, dropSiteRate); v == 0 {
		t.Fatal("flood not counted as over the site's rate")
	}
	for _, cause := range []string{dropBufferFull, dropStoreUnavailable} {
		if v := f.labelled(t, metrics.IngestHeartbeatsDroppedTotal, cause); v != 0 {
			t.Fatalf("%v heartbeats dropped as %s", v, cause)
		}
	}
	if l := f.logLines("ClickHouse was unavailable"); l != 0 {
		t.Fatalf("flood logged as ClickHouse unavailable:\n%s", f.logs.String())
	}
	floods := f.logLines("floods status messages", "site=FLOOD")
	if floods == 0 || uint64(floods) > intervals || f.logLines("floods status messages", "site=SITE-B") != 0 {
		t.Fatalf("%d flood lines for FLOOD in %d intervals, want one per interval and none for SITE-B", floods, intervals)
	}
	t.Logf("%d statuses in %s: %d dropped over the site's rate, %d superseded, %d flood lines", flood, time.Since(start).Round(time.Millisecond),
		int(f.labelled(t, metrics.IngestHeartbeatsDroppedTotal, dropSiteRate)),
		int(f.labelled(t, metrics.IngestHeartbeatsDroppedTotal, dropSuperseded)), floods)
}
