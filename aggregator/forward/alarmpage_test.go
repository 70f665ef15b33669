package forward_test

import (
	"context"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/forward"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

// More alarm rows in one second than a read returns (a flood, or the rows
// a restart writes in one insert) all reach the platform, once each: the
// reads page through the second rather than starting it over.
func TestAlarmsOfOneSecondBeyondAPage(t *testing.T) {
	defer forward.SetAlarmPage(5)()
	st := storetest.Open(t)
	seedRegistry(t, st)
	dir := t.TempDir()
	certFile, keyFile, pool := clientCert(t, dir)
	rcv := newReceiver(t, pool)

	raised := time.Now().Add(-time.Minute).Truncate(time.Second).UnixNano()
	var flood []store.AlarmEvent
	for i := range 3 {
		for _, p := range mapped {
			flood = append(flood, store.AlarmEvent{SiteID: site, PointID: p, Condition: "H", Active: true,
				RaisedNs: raised + int64(i)*1e9, Value: 16, Limit: 15})
		}
	}
	flood[len(flood)-1].Active, flood[len(flood)-1].ClearedNs = false, raised+5e9
	if err := st.SaveAlarmEvents(context.Background(), flood); err != nil { // one evaluated_at second
		t.Fatal(err)
	}

	tg := rcv.target(t, dir)
	tg.TLS.CertFile, tg.TLS.KeyFile = certFile, keyFile
	tg.InitialBacklog = 5 * time.Minute
	stop := runForwarder(t, st, tg)
	want := len(flood) + 1 // and the one end
	waitFor(t, 30*time.Second, "every alarm of the flood", func() bool {
		_, alarms := rcv.snapshot()
		n := 0
		for _, phases := range alarms {
			n += len(phases)
		}
		return n >= want
	})
	time.Sleep(2 * time.Second) // anything sent twice would arrive meanwhile
	stop()
	_, alarms := rcv.snapshot()
	n := 0
	for key, phases := range alarms {
		n += len(phases)
		if len(phases) != 1 {
			t.Errorf("alarm %s arrived %d times: %v", key, len(phases), phases)
		}
	}
	if n != want {
		t.Errorf("%d alarm messages, want %d", n, want)
	}
}
