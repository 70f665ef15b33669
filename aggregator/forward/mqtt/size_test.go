package mqtt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/forward/mqtt"
	"github.com/lifeline-telemetry/lifeline/aggregator/forward/mqtt/mqtttest"
)

// A message larger than the broker takes would cost the connection on
// every attempt (and, in an MQTT 5 session, be resent on every new one,
// blocking everything behind it). Send refuses it for good instead: MQTT 5
// from the limit the broker announces, 3.1.1 from max_packet_size.
func TestTooLarge(t *testing.T) {
	const limit = 1000
	b := mqtttest.Start(t, mqtttest.Options{MaxPacketSize: limit})
	for _, v := range versions {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			topic := fmt.Sprintf("province/size/v%d", v)
			sub := mqtttest.Subscribe(t, b, fmt.Sprintf("sub-size-v%d", v), topic)
			cfg := config(v, b.URL(), fmt.Sprintf("fwd-size-v%d", v))
			if v == 3 {
				cfg.MaxPacketSize = limit
			}
			p := start(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// The largest payload that fits, then one byte more.
			fit := limit - (1 + 2 + 2 + len(topic) + 2)
			if v == 5 {
				fit--
			}
			if err := p.Send(ctx, topic, bytes.Repeat([]byte("x"), fit)); err != nil {
				t.Fatalf("payload that fits: %v", err)
			}
			err := p.Send(ctx, topic, bytes.Repeat([]byte("y"), fit+1))
			var rej *mqtt.RejectedError
			if !errors.As(err, &rej) || rej.Code != 0x95 || !rej.Permanent() {
				t.Fatalf("payload one byte too large: %v, want a permanent rejection 0x95", err)
			}
			if err := p.Send(ctx, topic, payload(0)); err != nil {
				t.Fatalf("small payload after: %v", err)
			}
			msgs, ok := sub.WaitFor(10*time.Second, func(m []mqtttest.Message) bool { return len(m) >= 2 })
			if !ok || len(msgs[0].Payload) != fit || !bytes.Equal(msgs[1].Payload, payload(0)) {
				t.Fatalf("arrived %d messages", len(msgs))
			}
		})
	}
}
