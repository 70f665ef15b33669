package forward_test

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lifeline-telemetry/lifeline/aggregator/forward"
	"github.com/lifeline-telemetry/lifeline/aggregator/forward/mqtt"
	"github.com/lifeline-telemetry/lifeline/aggregator/forward/mqtt/mqtttest"
	"github.com/lifeline-telemetry/lifeline/aggregator/forward/sm4"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

// mqttOutage is how long the broker is down in TestMQTTWindowAndOutage:
// 10 s by default, LIFELINE_FORWARD_MQTT_OUTAGE (e.g. 60s) for the long
// run.
func mqttOutage(t *testing.T) time.Duration {
	if v := os.Getenv("LIFELINE_FORWARD_MQTT_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("LIFELINE_FORWARD_MQTT_OUTAGE: %v", err)
		}
		return d
	}
	return 10 * time.Second
}

// decodeValues decrypts and parses the real-time messages received so far.
func decodeValues(t *testing.T, c *sm4.Cipher, msgs []mqtttest.Message) (vals []received, alarms map[string][]string) {
	t.Helper()
	alarms = map[string][]string{}
	for _, m := range msgs {
		plain, err := c.Decrypt(m.Payload)
		if err != nil {
			t.Fatalf("decrypt %s: %v", m.Topic, err)
		}
		var p map[string]any
		if err := json.Unmarshal(plain, &p); err != nil {
			t.Fatalf("%s: %v: %s", m.Topic, err, plain)
		}
		switch {
		case strings.HasSuffix(m.Topic, "/realtime"):
			period, _ := time.ParseInLocation("2006-01-02 15:04:05", p["collectTime"].(string), shanghai)
			for _, d := range p["datas"].([]any) {
				d := d.(map[string]any)
				vals = append(vals, received{key: d["dataId"].(string), code: d["quotaId"].(string), period: period.UnixNano(),
					value: d["value"].(float64), dataTime: d["dataTime"].(string)})
			}
		case strings.HasSuffix(m.Topic, "/alarm"):
			alarms[p["dataId"].(string)] = append(alarms[p["dataId"].(string)], p["alarmStatus"].(string))
		}
	}
	return vals, alarms
}

// Over mosquitto (MQTT 5, QoS 1, TLS with a client certificate, SM4
// payloads): a seeded window arrives once; then the broker stops for a
// while and every value written meanwhile arrives after it, the newest
// period before the backlog.
func TestMQTTWindowAndOutage(t *testing.T) {
	st := storetest.Open(t)
	seedRegistry(t, st)
	broker := mqtttest.Start(t, mqtttest.Options{TLS: true, RequireCertificate: true})
	sub := mqtttest.Subscribe(t, broker, "platform", "lifeline/#")
	enc := &sm4.Config{Mode: sm4.ModeCBC, Key: "0123456789abcdeffedcba9876543210", Encoding: sm4.EncodingBase64}
	cipher, err := sm4.New(*enc)
	if err != nil {
		t.Fatal(err)
	}

	const periods = 15
	start := time.Now().Truncate(time.Second).Add(-(periods + 3) * time.Second)
	want := insertValues(t, st, start, periods, time.Second)
	raised := start.Add(time.Second).UnixNano()
	if err := st.SaveAlarmEvents(context.Background(), []store.AlarmEvent{
		{SiteID: site, PointID: "T101.LT", Condition: "HH", RaisedNs: raised, ClearedNs: raised + 3e9, Value: 18.5, Limit: 18, ClearValue: 17},
	}); err != nil {
		t.Fatal(err)
	}
	tg := mqttTarget(broker, enc, (periods+5)*time.Second)
	stop := runForwarderIgnoring(t, st, subscriberGoroutines(), tg)

	if _, ok := sub.WaitFor(60*time.Second, func(m []mqtttest.Message) bool {
		vals, alarms := decodeValues(t, cipher, m)
		return len(missing(want, distinct(vals))) == 0 && len(alarms) == 2
	}); !ok {
		vals, _ := decodeValues(t, cipher, sub.Messages())
		t.Fatalf("window incomplete: missing %v", missing(want, distinct(vals)))
	}
	time.Sleep(time.Second)
	vals, alarms := decodeValues(t, cipher, sub.Messages())
	for id := range want {
		if n := len(distinct(vals)[id]); n != 1 {
			t.Errorf("%v arrived %d times", id, n)
		}
	}
	for k, phases := range alarms {
		if len(phases) != 1 {
			t.Errorf("alarm %s arrived %v", k, phases)
		}
	}

	writer := startLiveWriter(t, st)
	time.Sleep(3 * time.Second)
	if err := broker.Stop(); err != nil {
		t.Fatal(err)
	}
	down := mqttOutage(t)
	t.Logf("broker stopped for %s", down)
	time.Sleep(down)
	recovered := time.Now()
	if err := broker.Start(); err != nil {
		t.Fatal(err)
	}
	// Values keep coming until the forwarder is back on the broker, so
	// its first message after the outage can be the newest period.
	if _, ok := sub.WaitFor(60*time.Second, func(m []mqtttest.Message) bool {
		vals, _ := decodeValues(t, cipher, m)
		return len(vals) > 0 && vals[len(vals)-1].period >= recovered.Truncate(time.Second).UnixNano()
	}); !ok {
		t.Fatal("nothing from after the broker's restart")
	}
	time.Sleep(2 * time.Second)
	writer.stop()
	live := writer.wanted()
	if _, ok := sub.WaitFor(60*time.Second+down, func(m []mqtttest.Message) bool {
		vals, _ := decodeValues(t, cipher, m)
		return len(missing(live, distinct(vals))) == 0
	}); !ok {
		vals, _ := decodeValues(t, cipher, sub.Messages())
		t.Fatalf("after the outage, missing %v", missing(live, distinct(vals)))
	}
	stop()

	vals, _ = decodeValues(t, cipher, sub.Messages())
	dups := 0
	for _, rs := range distinct(vals) {
		for _, r := range rs[1:] {
			dups++
			if r.key != rs[0].key {
				t.Errorf("%s arrived with keys %s and %s", r.code, rs[0].key, r.key)
			}
		}
	}
	checkNewestFirst(t, vals, recovered, down, tg.Delay)
	t.Logf("%d live values wanted, %d values received in all, %d duplicates (same key)", len(live), len(vals), dups)
}

// mqttTarget reports to broker's TLS listener with its client
// certificate, encrypting with enc.
func mqttTarget(broker *mqtttest.Broker, enc *sm4.Config, backlog time.Duration) forward.Target {
	return forward.Target{
		Name: "province", Transport: "mqtt", Templates: templates,
		MQTT: mqtt.Config{Broker: broker.TLSURL(), Version: 5, ClientID: "lifeline-test",
			TLS:          mqtt.TLS{CA: broker.Certs.CA, Cert: broker.Certs.ClientCert, Key: broker.Certs.ClientKey},
			ReconnectMax: 5 * time.Second},
		Dest: map[string]string{
			forward.KindRealtime:  "lifeline/{{.Enterprise.Code}}/realtime",
			forward.KindAlarm:     "lifeline/{{.Enterprise.Code}}/alarm",
			forward.KindBase:      "lifeline/{{.Enterprise.Code}}/base",
			forward.KindHeartbeat: "lifeline/{{.Enterprise.Code}}/heartbeat",
		},
		Encryption: enc, Period: time.Second, Delay: 300 * time.Millisecond, InitialBacklog: backlog,
		BacklogRate: 5, Timeout: 2 * time.Second, HeartbeatEvery: 5 * time.Second,
	}
}

// subscriberGoroutines are what the test's subscriber (paho.mqtt.golang)
// and broker start when the broker restarts.
func subscriberGoroutines() []goleak.Option {
	var ignoring []goleak.Option
	for _, f := range []string{"(*client).startCommsWorkers.func1", "(*client).startCommsWorkers.func2",
		"(*router).matchAndDispatch.func2", "keepalive", "startComms.func1", "startComms.func2", "startComms.func3",
		"startIncomingComms.func1", "startOutgoingComms.func1"} {
		ignoring = append(ignoring, goleak.IgnoreAnyFunction("github.com/eclipse/paho%2emqtt%2egolang."+f))
	}
	ignoring = append(ignoring, goleak.IgnoreAnyFunction("github.com/lifeline-telemetry/lifeline/aggregator/forward/mqtt/mqtttest.(*Broker).Start.func1"))
	return ignoring
}

// checkNewestFirst: after the outage, the newest period at the restart
// arrives before the periods from the middle of the outage.
func checkNewestFirst(t *testing.T, vals []received, recovered time.Time, down, delay time.Duration) {
	t.Helper()
	newest := recovered.Add(-delay).Truncate(time.Second).Add(-2 * time.Second).UnixNano()
	midFrom, midTo := recovered.Add(-down*3/4).UnixNano(), recovered.Add(-down/4).UnixNano()
	firstNew, firstMiddle := -1, -1
	for i, v := range vals {
		if firstNew < 0 && v.period >= newest {
			firstNew = i
		}
		if firstMiddle < 0 && v.period >= midFrom && v.period < midTo {
			firstMiddle = i
		}
	}
	if firstNew < 0 || firstMiddle < 0 || firstNew > firstMiddle {
		t.Errorf("after the outage the newest period came at %d, the outage's middle at %d: want the newest first", firstNew, firstMiddle)
		var order []string
		for i, v := range vals {
			if i == 0 || v.period != vals[i-1].period {
				order = append(order, strconv.Itoa(int(time.Duration(v.period-recovered.UnixNano()).Seconds())))
			}
		}
		t.Logf("periods in arrival order, seconds from the broker's restart: %s", strings.Join(order, " "))
	}
}
