package forward_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lifeline-telemetry/lifeline/aggregator/forward"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

func testLogger() *slog.Logger {
	if os.Getenv("LIFELINE_FORWARD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// runForwarder runs a forwarder until the test ends.
func runForwarder(t *testing.T, st *store.Store, targets ...forward.Target) (stop func()) {
	return runForwarderIgnoring(t, st, nil, targets...)
}

// runForwarderIgnoring is runForwarder for tests whose own helpers start
// goroutines meanwhile (an MQTT subscriber reconnecting).
func runForwarderIgnoring(t *testing.T, st *store.Store, ignoring []goleak.Option, targets ...forward.Target) (stop func()) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	fw := forward.New(forward.Config{Targets: targets}, st, nil, nil, testLogger())
	go func() { done <- fw.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("forwarder: %v", err)
		}
		opts := append([]goleak.Option{ignore, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
			goleak.IgnoreTopFunction("internal/poll.runtime_pollWait")}, ignoring...)
		goleak.VerifyNone(t, opts...)
	}
	t.Cleanup(stop)
	return stop
}

// Every value and alarm of a seeded window reaches an HTTPS platform that
// requires a client certificate exactly once, with the template's fields;
// an unmapped point is never sent.
func TestHTTPSWindowArrivesOnce(t *testing.T) {
	st := storetest.Open(t)
	seedRegistry(t, st)
	dir := t.TempDir()
	certFile, keyFile, pool := clientCert(t, dir)
	rcv := newReceiver(t, pool)

	const periods = 20
	start := time.Now().Truncate(time.Second).Add(-(periods + 3) * time.Second)
	want := insertValues(t, st, start, periods, time.Second)
	seedWindowAlarms(t, st, start.Add(2*time.Second).UnixNano())

	tg := rcv.target(t, dir)
	tg.TLS.CertFile, tg.TLS.KeyFile = certFile, keyFile
	tg.InitialBacklog = (periods + 5) * time.Second
	stop := runForwarder(t, st, tg)

	waitFor(t, 60*time.Second, "every value and alarm", func() bool {
		vals, alarms := rcv.snapshot()
		return len(missing(want, distinct(vals))) == 0 && len(alarms) == 3
	})
	time.Sleep(2 * time.Second) // anything sent twice would arrive meanwhile
	stop()

	vals, alarms := rcv.snapshot()
	got := distinct(vals)
	for id, v := range want {
		rs := got[id]
		if len(rs) != 1 {
			t.Errorf("%v arrived %d times", id, len(rs))
			continue
		}
		if rs[0].value != v {
			t.Errorf("%v: value %v, want %v", id, rs[0].value, v)
		}
		wantTime := time.Unix(0, id.period).Add(100 * time.Millisecond).In(shanghai).Format("2006-01-02 15:04:05")
		if rs[0].dataTime != wantTime {
			t.Errorf("%v: dataTime %q, want %q", id, rs[0].dataTime, wantTime)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok && id.period >= start.UnixNano() && id.period < start.Add(periods*time.Second).UnixNano() {
			t.Errorf("unexpected value %v", id)
		}
		if id.code == "" || id.code == pointCode(unmapped) {
			t.Errorf("unmapped point sent: %v", id)
		}
	}
	var starts, ends int
	for key, phases := range alarms {
		if len(phases) != 1 {
			t.Errorf("alarm %s arrived %d times: %v", key, len(phases), phases)
		}
		switch phases[0] {
		case "1/" + pointCode("T101.LT") + "/2", "1/" + pointCode("P201.PT") + "/3":
			starts++
		case "0/" + pointCode("P201.PT") + "/3":
			ends++
		default:
			t.Errorf("alarm %s: unexpected %v", key, phases)
		}
	}
	if starts != 2 || ends != 1 {
		t.Errorf("alarms: %d starts, %d ends, want 2 and 1", starts, ends)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.bases) != 1 {
		t.Fatalf("%d base data messages, want 1", len(rcv.bases))
	}
	b := rcv.bases[0]
	quotas := b["quotas"].([]any)
	if len(quotas) != len(mapped) || b["companyName"] != "示例化工有限公司" {
		t.Errorf("base data: %d quotas, company %v", len(quotas), b["companyName"])
	}
	q := quotas[0].(map[string]any)
	if q["highHighLimit"] != 18.0 || q["rangeHigh"] != 20.0 || q["lowLimit"] != nil || q["hazardCode"] != "320500000001" {
		t.Errorf("base data quota: %v", q)
	}
	if rcv.beats == 0 {
		t.Error("no heartbeat")
	}
}

// seedWindowAlarms writes an active alarm on T101.LT, one raised and
// cleared on P201.PT whose raise row is merged away (as after a while, so
// its start is sent from the clear row), and one on the unmapped point.
func seedWindowAlarms(t *testing.T, st *store.Store, raised int64) {
	t.Helper()
	if err := st.SaveAlarmEvents(context.Background(), []store.AlarmEvent{
		{SiteID: site, PointID: "T101.LT", Condition: "HH", Active: true, RaisedNs: raised, Value: 18.5, Limit: 18},
		{SiteID: site, PointID: "P201.PT", Condition: "L", Active: true, RaisedNs: raised, Value: 1, Limit: 2},
		{SiteID: site, PointID: unmapped, Condition: "H", Active: true, RaisedNs: raised, Value: 16, Limit: 15},
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveAlarmEvents(context.Background(), []store.AlarmEvent{
		{SiteID: site, PointID: "P201.PT", Condition: "L", RaisedNs: raised, ClearedNs: raised + 5e9, Value: 1, Limit: 2, ClearValue: 3},
	}); err != nil {
		t.Fatal(err)
	}
	conn := chtest.Conn(t, st.Config().Addr, st.Config().Database)
	if err := conn.Exec(context.Background(), "OPTIMIZE TABLE alarm_events FINAL"); err != nil {
		t.Fatal(err)
	}
	var rows uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM alarm_events WHERE point_id = 'P201.PT'").Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("P201.PT alarm rows after OPTIMIZE: %d %v", rows, err)
	}
}
