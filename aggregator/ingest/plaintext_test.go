package ingest

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Plain text on an address others can reach needs a second switch.
func TestInsecureNeedsLoopbackOrSecondSwitch(t *testing.T) {
	for listen, ok := range map[string]bool{
		"127.0.0.1:7400": true, "localhost:7400": true, "[::1]:7400": true,
		"0.0.0.0:7400": false, ":7400": false, "10.0.0.5:7400": false, "aggregator.example:7400": false,
	} {
		cfg := DefaultServerConfig()
		cfg.Listen = listen
		cfg.TLS = ServerTLS{Insecure: true}
		err := cfg.Validate()
		if (err == nil) != ok {
			t.Errorf("insecure on %s: %v", listen, err)
		}
		if err != nil && !strings.Contains(err.Error(), "insecure_allow_remote") {
			t.Errorf("error does not name the switch: %v", err)
		}
		cfg.TLS.InsecureAllowRemote = true
		if err := cfg.Validate(); err != nil {
			t.Errorf("insecure_allow_remote on %s: %v", listen, err)
		}
	}
}

// The plaintext warning repeats every period until stopped.
func TestInsecureWarningRepeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n int
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			warnInsecure(stop, "0.0.0.0:7400", insecureWarnEvery, func(string, ...any) { n++ })
		}()
		time.Sleep(25 * time.Minute)
		synctest.Wait()
		close(stop)
		<-done
		if n != 3 {
			t.Fatalf("%d warnings in 25 min, want 3", n)
		}
	})
}

// A plaintext receiver warns at start and says so in a metric.
func TestInsecureReceiverWarnsAndCounts(t *testing.T) {
	logs := &countingHandler{n: map[string]int{}}
	logger := slog.New(logs)
	svc := NewService(&memLedger{}, &heldWriter{added: make(chan struct{}, 1)}, nil, DefaultOptions(), NewMetrics(nil), logger)
	cfg := DefaultServerConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.TLS = ServerTLS{Insecure: true}
	recv := NewReceiver(cfg, svc, logger, NewLinkMetrics(prometheus.NewRegistry()))
	if err := recv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	defer recv.Shutdown(ctx)
	if got := value(t, recv.guard.insecure); got != 1 {
		t.Fatalf("insecure gauge %v", got)
	}
	deadline := time.Now().Add(2 * time.Second)
	for logs.count("ingest serves PLAIN TEXT without client certificates: any client that reaches it can write for any site") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no plaintext warning at start")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
