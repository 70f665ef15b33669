package mqtt_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lifeline-telemetry/lifeline/aggregator/forward/mqtt"
	"github.com/lifeline-telemetry/lifeline/aggregator/forward/mqtt/mqtttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var versions = []int{3, 5}

func logger(testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func config(version int, broker, clientID string) mqtt.Config {
	c := mqtt.DefaultConfig()
	c.Version = version
	c.Broker = broker
	c.ClientID = clientID
	c.ReconnectMin = 100 * time.Millisecond
	c.ReconnectMax = 500 * time.Millisecond
	c.ConnectTimeout = 2 * time.Second
	c.AckTimeout = 10 * time.Second
	return c
}

// start runs a publisher until the test ends.
func start(t *testing.T, cfg mqtt.Config) *mqtt.Publisher { return startB(t, cfg) }

func startB(t testing.TB, cfg mqtt.Config) *mqtt.Publisher {
	t.Helper()
	p, err := mqtt.New(cfg, logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := p.Close(); err != nil {
			t.Error(err)
		}
		if err := <-runErr; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return p
}

func payload(i int) []byte {
	return []byte(fmt.Sprintf(`{"seq":%d,"name":"一号储罐液位 LT-101","unit":"米","status":"正常"}`, i))
}

// arrived counts each expected payload's copies; it fails on anything else.
func arrived(t *testing.T, msgs []mqtttest.Message, topic string, n int) (missing, dups int) {
	t.Helper()
	seen := make(map[string]int)
	for _, m := range msgs {
		if m.Topic != topic {
			t.Errorf("message on %q, want %q", m.Topic, topic)
		}
		seen[string(m.Payload)]++
	}
	for i := range n {
		switch c := seen[string(payload(i))]; {
		case c == 0:
			missing++
		case c > 1:
			dups += c - 1
		}
		delete(seen, string(payload(i)))
	}
	for p := range seen {
		t.Errorf("unexpected payload %q", p)
	}
	return missing, dups
}

func allArrived(t *testing.T, topic string, n int) func([]mqtttest.Message) bool {
	return func(msgs []mqtttest.Message) bool {
		seen := make(map[string]bool)
		for _, m := range msgs {
			seen[string(m.Payload)] = true
		}
		for i := range n {
			if !seen[string(payload(i))] {
				return false
			}
		}
		return true
	}
}

func TestPublishQoS1(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	for _, v := range versions {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			topic := fmt.Sprintf("province/hazard/v%d/实时数据", v)
			sub := mqtttest.Subscribe(t, b, fmt.Sprintf("sub-qos1-v%d", v), topic)
			p := start(t, config(v, b.URL(), fmt.Sprintf("fwd-qos1-v%d", v)))

			const n = 300
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// Several senders at once, as the forwarder's targets and backlog do.
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < n; i += 4 {
						if err := p.Send(ctx, topic, payload(i)); err != nil {
							errs <- err
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			msgs, ok := sub.WaitFor(10*time.Second, allArrived(t, topic, n))
			missing, dups := arrived(t, msgs, topic, n)
			if !ok || missing > 0 {
				t.Fatalf("%d of %d messages missing", missing, n)
			}
			t.Logf("v%d: %d messages, %d duplicates", v, n, dups)
		})
	}
}

func TestSendWaitsForBroker(t *testing.T) {
	for _, v := range versions {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			b := mqtttest.Start(t, mqtttest.Options{})
			topic := "province/wait"
			sub := mqtttest.Subscribe(t, b, "sub-wait", topic)
			p := start(t, config(v, b.URL(), "fwd-wait"))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := p.Send(ctx, topic, payload(0)); err != nil {
				t.Fatal(err)
			}

			// autopaho reports a connection just after it is usable.
			waitFor(t, p.Connected, "not Connected after a Send")
			if err := b.Stop(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return !p.Connected() }, "Connected false while the broker is down")
			done := make(chan error, 1)
			go func() { done <- p.Send(ctx, topic, payload(1)) }()
			select {
			case err := <-done:
				t.Fatalf("Send returned %v while the broker was down", err)
			case <-time.After(2 * time.Second):
			}
			if err := b.Start(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("Send after the broker came back: %v", err)
			}
			waitFor(t, p.Connected, "not Connected after the broker came back")
			msgs, ok := sub.WaitFor(10*time.Second, allArrived(t, topic, 2))
			if missing, _ := arrived(t, msgs, topic, 2); !ok || missing > 0 {
				t.Fatalf("%d messages missing", missing)
			}
		})
	}
}

func TestBrokerOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("stops the broker for 5 s")
	}
	for _, v := range versions {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			b := mqtttest.Start(t, mqtttest.Options{})
			topic := "province/outage"
			sub := mqtttest.Subscribe(t, b, "sub-outage", topic)
			p := start(t, config(v, b.URL(), "fwd-outage"))

			const n = 400
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			errs := make(chan error, n)
			var mu sync.Mutex
			sent := 0
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < n; i += 8 {
						if err := p.Send(ctx, topic, payload(i)); err != nil {
							errs <- err
							return
						}
						mu.Lock()
						sent++
						mu.Unlock()
						time.Sleep(20 * time.Millisecond)
					}
				}()
			}
			time.Sleep(300 * time.Millisecond)
			if err := b.Stop(); err != nil {
				t.Fatal(err)
			}
			// A Send acknowledged just before the stop may count itself a
			// little later; after a second, none can.
			time.Sleep(time.Second)
			mu.Lock()
			before := sent
			mu.Unlock()
			time.Sleep(4 * time.Second)
			mu.Lock()
			during := sent - before
			mu.Unlock()
			if err := b.Start(); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if during > 0 {
				t.Errorf("%d Sends returned while the broker was down", during)
			}
			msgs, ok := sub.WaitFor(20*time.Second, allArrived(t, topic, n))
			missing, dups := arrived(t, msgs, topic, n)
			if !ok || missing > 0 {
				t.Fatalf("%d of %d messages missing after the outage", missing, n)
			}
			t.Logf("v%d: %d sent before the outage, %d messages arrived, %d duplicates", v, before, n, dups)
		})
	}
}

func TestTLSClientCertificate(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{TLS: true, RequireCertificate: true})
	for _, v := range versions {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			topic := fmt.Sprintf("province/tls/v%d", v)
			sub := mqtttest.Subscribe(t, b, fmt.Sprintf("sub-tls-v%d", v), topic)
			cfg := config(v, b.TLSURL(), fmt.Sprintf("fwd-tls-v%d", v))
			cfg.TLS = mqtt.TLS{CA: b.Certs.CA, Cert: b.Certs.ClientCert, Key: b.Certs.ClientKey, ServerName: "localhost"}
			p := start(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for i := range 20 {
				if err := p.Send(ctx, topic, payload(i)); err != nil {
					t.Fatal(err)
				}
			}
			msgs, ok := sub.WaitFor(10*time.Second, allArrived(t, topic, 20))
			if missing, _ := arrived(t, msgs, topic, 20); !ok || missing > 0 {
				t.Fatalf("%d messages missing", missing)
			}
		})
		t.Run(fmt.Sprintf("v%d/no client certificate", v), func(t *testing.T) {
			cfg := config(v, b.TLSURL(), fmt.Sprintf("fwd-nocert-v%d", v))
			cfg.TLS = mqtt.TLS{CA: b.Certs.CA, ServerName: "localhost"}
			p := start(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := p.Send(ctx, "province/tls/refused", payload(0)); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Send without a client certificate = %v, want a deadline", err)
			}
		})
		t.Run(fmt.Sprintf("v%d/wrong server name", v), func(t *testing.T) {
			cfg := config(v, b.TLSURL(), fmt.Sprintf("fwd-badname-v%d", v))
			cfg.TLS = mqtt.TLS{CA: b.Certs.CA, Cert: b.Certs.ClientCert, Key: b.Certs.ClientKey, ServerName: "platform.example"}
			p := start(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := p.Send(ctx, "province/tls/refused", payload(0)); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Send to a broker with another name = %v, want a deadline", err)
			}
		})
	}
}

func TestCloseCancelsSends(t *testing.T) {
	cfg := config(5, "mqtt://127.0.0.1:1", "fwd-close")
	p, err := mqtt.New(cfg, logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := p.Run(context.Background()); !errors.Is(err, mqtt.ErrClosed) {
		t.Fatalf("Run after Close = %v", err)
	}

	for _, v := range versions {
		p, err := mqtt.New(config(v, "mqtt://127.0.0.1:1", "fwd-close"), logger(t))
		if err != nil {
			t.Fatal(err)
		}
		runErr := make(chan error, 1)
		go func() { runErr <- p.Run(context.Background()) }()
		sendErr := make(chan error, 1)
		go func() { sendErr <- p.Send(context.Background(), "t", []byte("x")) }()
		time.Sleep(200 * time.Millisecond)
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-sendErr; !errors.Is(err, mqtt.ErrClosed) {
			t.Fatalf("v%d: Send during Close = %v, want ErrClosed", v, err)
		}
		if err := <-runErr; err != nil {
			t.Fatalf("v%d: Run = %v", v, err)
		}
		if err := p.Send(context.Background(), "t", []byte("x")); !errors.Is(err, mqtt.ErrClosed) {
			t.Fatalf("v%d: Send after Close = %v", v, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := config(5, "mqtts://platform.example:8883", "91320000MA1XXXXXXX")
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(*mqtt.Config){
		"no broker":     func(c *mqtt.Config) { c.Broker = "" },
		"http broker":   func(c *mqtt.Config) { c.Broker = "https://platform.example" },
		"version 4":     func(c *mqtt.Config) { c.Version = 4 },
		"no client id":  func(c *mqtt.Config) { c.ClientID = "" },
		"cert no key":   func(c *mqtt.Config) { c.TLS.Cert = "a.crt" },
		"tls on plain":  func(c *mqtt.Config) { c.Broker = "mqtt://x:1883"; c.TLS.CA = "ca.crt" },
		"keep alive 0":  func(c *mqtt.Config) { c.KeepAlive = 0 },
		"ack timeout 0": func(c *mqtt.Config) { c.AckTimeout = 0 },
		"inflight 0":    func(c *mqtt.Config) { c.MaxInflight = 0 },
		"backoff order": func(c *mqtt.Config) { c.ReconnectMax = c.ReconnectMin / 2 },
		"v3 password":   func(c *mqtt.Config) { c.Version = 3; c.Password = "secret" },
	}
	for name, mutate := range cases {
		c := good
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := mqtt.New(c, nil); err == nil {
			t.Errorf("%s: New accepted", name)
		}
	}
	for _, topic := range []string{"", "a/+/b", "a/#", "a\x00"} {
		if mqtt.ValidTopic(topic) == nil {
			t.Errorf("topic %q accepted", topic)
		}
	}
	if err := mqtt.ValidTopic("province/" + strings.Repeat("数", 10)); err != nil {
		t.Error(err)
	}
}

func TestRunEndedEndsSends(t *testing.T) {
	for _, v := range versions {
		p, err := mqtt.New(config(v, "mqtt://127.0.0.1:1", "fwd-runend"), logger(t))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		runErr := make(chan error, 1)
		go func() { runErr <- p.Run(ctx) }()
		sendErr := make(chan error, 1)
		go func() { sendErr <- p.Send(context.Background(), "t", []byte("x")) }()
		time.Sleep(200 * time.Millisecond)
		cancel()
		if err := <-runErr; err != nil {
			t.Fatalf("v%d: Run = %v", v, err)
		}
		if err := <-sendErr; !errors.Is(err, mqtt.ErrClosed) {
			t.Fatalf("v%d: Send when Run ended = %v, want ErrClosed", v, err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunRefusesMissingCertificates(t *testing.T) {
	dir := t.TempDir()
	for _, tls := range []mqtt.TLS{
		{CA: dir + "/missing-ca.crt"},
		{Cert: dir + "/missing.crt", Key: dir + "/missing.key"},
	} {
		cfg := config(5, "mqtts://127.0.0.1:1", "fwd-nocerts")
		cfg.TLS = tls
		p, err := mqtt.New(cfg, logger(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "missing") {
			t.Fatalf("Run with %+v = %v, want the missing file named", tls, err)
		}
		if err := p.Send(context.Background(), "t", []byte("x")); !errors.Is(err, mqtt.ErrClosed) {
			t.Fatalf("Send after Run failed = %v, want ErrClosed", err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
