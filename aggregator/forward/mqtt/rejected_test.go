package mqtt_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/forward/mqtt"
	"github.com/lifeline-telemetry/lifeline/aggregator/forward/mqtt/mqtttest"
)

// A topic the broker's ACL forbids: MQTT 5 says so in the PUBACK and Send
// gives up; MQTT 3.1.1 cannot say so, and the broker acknowledges and drops
// the message (the reason docs/forwarding.md prefers version 5).
func TestForbiddenTopic(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{ACL: "topic readwrite province/#"})
	sub := mqtttest.Subscribe(t, b, "sub-acl", "#")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	p5 := start(t, config(5, b.URL(), "fwd-acl-v5"))
	err := p5.Send(ctx, "forbidden/v5", payload(0))
	var rej *mqtt.RejectedError
	if !errors.As(err, &rej) || rej.Code != 0x87 || !rej.Permanent() {
		t.Fatalf("v5 Send to a forbidden topic = %v, want a permanent rejection 0x87", err)
	}
	if err := p5.Send(ctx, "province/allowed", payload(1)); err != nil {
		t.Fatalf("v5 Send to an allowed topic: %v", err)
	}

	p3 := start(t, config(3, b.URL(), "fwd-acl-v3"))
	if err := p3.Send(ctx, "forbidden/v3", payload(2)); err != nil {
		t.Fatalf("v3 Send to a forbidden topic = %v; mosquitto acknowledges it under 3.1.1", err)
	}
	if err := p3.Send(ctx, "province/allowed", payload(3)); err != nil {
		t.Fatalf("v3 Send to an allowed topic: %v", err)
	}
	msgs, _ := sub.WaitFor(5*time.Second, func(m []mqtttest.Message) bool { return len(m) >= 2 })
	time.Sleep(200 * time.Millisecond)
	msgs = sub.Messages()
	for _, m := range msgs {
		if m.Topic != "province/allowed" {
			t.Errorf("message on %s reached the subscriber", m.Topic)
		}
	}
	if len(msgs) != 2 {
		t.Fatalf("%d messages arrived, want the 2 on the allowed topic", len(msgs))
	}
}
