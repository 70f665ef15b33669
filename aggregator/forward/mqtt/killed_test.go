package mqtt_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/forward/mqtt/mqtttest"
)

// The broker is frozen with messages in flight (sent, no PUBACK), then
// killed: it comes back from its last save, which has the subscriber's
// session but not the publisher's. MQTT 5 finds no session to resume and
// its in-flight messages are published again at once (not after
// ack_timeout); 3.1.1 publishes them again on the new connection. Every Send returns nil only
// once the restarted broker has the message, and all arrive.
func TestBrokerKilledInFlight(t *testing.T) {
	if testing.Short() {
		t.Skip("freezes and kills the broker")
	}
	for _, v := range versions {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			b := mqtttest.Start(t, mqtttest.Options{})
			topic := "province/killed"
			sub := mqtttest.Subscribe(t, b, "sub-killed", topic)
			// Saves the subscriber's session before the publisher has one.
			if err := b.Stop(); err != nil {
				t.Fatal(err)
			}
			if err := b.Start(); err != nil {
				t.Fatal(err)
			}
			cfg := config(v, b.URL(), "fwd-killed")
			cfg.AckTimeout = 8 * time.Second
			p := start(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := p.Send(ctx, topic, payload(0)); err != nil {
				t.Fatal(err)
			}
			// A kill loses what the broker acknowledged but had not yet
			// passed on (its persistence is not synchronous), so the first
			// message must have reached the subscriber first.
			if _, ok := sub.WaitFor(10*time.Second, allArrived(t, topic, 1)); !ok {
				t.Fatal("first message did not arrive")
			}

			if err := b.Freeze(); err != nil {
				t.Fatal(err)
			}
			const n = 40
			errs := make(chan error, n)
			for i := 1; i < n; i++ {
				go func() { errs <- p.Send(ctx, topic, payload(i)) }()
			}
			time.Sleep(time.Second)
			select {
			case err := <-errs:
				t.Fatalf("a Send returned %v while the broker was frozen", err)
			default:
			}
			if err := b.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := b.Start(); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			for i := 1; i < n; i++ {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			msgs, ok := sub.WaitFor(10*time.Second, allArrived(t, topic, n))
			missing, dups := arrived(t, msgs, topic, n)
			if !ok || missing > 0 {
				t.Fatalf("%d of %d messages missing after the kill", missing, n)
			}
			took := time.Since(start)
			// Not ack_timeout: a session the broker lost is noticed at the
			// reconnect.
			if took >= cfg.AckTimeout/2 {
				t.Errorf("Sends took %v after the restart, ack_timeout is %v", took, cfg.AckTimeout)
			}
			t.Logf("v%d: all Sends returned %v after the restart; %d duplicates", v, took.Round(time.Millisecond), dups)
		})
	}
}
