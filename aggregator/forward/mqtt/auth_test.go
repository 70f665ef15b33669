package mqtt_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/forward/mqtt"
	"github.com/lifeline-telemetry/lifeline/aggregator/forward/mqtt/mqtttest"
)

func TestUsernamePassword(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{Users: map[string]string{"province-gw": "口令 p@ss"}})
	for _, v := range versions {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			topic := fmt.Sprintf("province/auth/v%d", v)
			sub := mqtttest.Subscribe(t, b, fmt.Sprintf("sub-auth-v%d", v), topic)
			cfg := config(v, b.URL(), fmt.Sprintf("fwd-auth-v%d", v))
			cfg.Username, cfg.Password = "province-gw", "口令 p@ss"
			p := start(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := p.Send(ctx, topic, payload(0)); err != nil {
				t.Fatal(err)
			}
			if _, ok := sub.WaitFor(10*time.Second, allArrived(t, topic, 1)); !ok {
				t.Fatal("message did not arrive")
			}
		})
		t.Run(fmt.Sprintf("v%d/wrong password", v), func(t *testing.T) {
			cfg := config(v, b.URL(), fmt.Sprintf("fwd-badauth-v%d", v))
			cfg.Username, cfg.Password = "province-gw", "wrong"
			p := start(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := p.Send(ctx, "province/auth/refused", payload(0)); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Send with a wrong password = %v, want a deadline", err)
			}
		})
	}
}

// The forwarder declares the transport interface in its own package; this
// is its shape (docs/forwarding.md, contracts).
type transport interface {
	Send(ctx context.Context, dest string, payload []byte) error
	Close() error
}

var _ transport = (*mqtt.Publisher)(nil)
