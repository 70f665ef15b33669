package uplink

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// The watch ends a session that owes an answer (no welcome yet, or
// batches in flight) and gets none for the deadline, and leaves alone one
// that is idle or keeps receiving acks.
func TestStallWatch(t *testing.T) {
	for _, tt := range []struct {
		name     string
		welcome  bool
		inFlight int64
		ackEvery time.Duration // 0: no acks
		stalls   bool
	}{
		{"no welcome", false, 0, 0, true},
		{"idle after the welcome", true, 0, 0, false},
		{"batches in flight, no ack", true, 3, 0, true},
		{"batches in flight, acks keep coming", true, 3, time.Second, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var wg sync.WaitGroup
				var inFlight atomic.Int64
				inFlight.Store(tt.inFlight)
				w := &stallWatch{}
				w.welcomed.Store(tt.welcome)
				var cancelled atomic.Bool
				w.watch(ctx, &wg, 3*time.Second, inFlight.Load, func() { cancelled.Store(true) })
				for range 10 {
					time.Sleep(time.Second)
					if tt.ackEvery > 0 {
						w.progress()
					}
				}
				cancel()
				wg.Wait()
				if cancelled.Load() != tt.stalls || w.stalled.Load() != tt.stalls {
					t.Fatalf("cancelled %v stalled %v; want %v", cancelled.Load(), w.stalled.Load(), tt.stalls)
				}
				err := stalledErr(w, 3*time.Second, context.Canceled)
				if tt.stalls != (err != context.Canceled) {
					t.Fatalf("session error %v", err)
				}
			})
		})
	}
}

// A probe passes a serving gRPC server and fails one that accepts TCP but
// never answers (a paused process) or refuses connections.
func TestProbe(t *testing.T) {
	serving, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	go func() { _ = srv.Serve(serving) }()
	defer srv.Stop()

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	acceptDone := make(chan struct{})
	go func() {
		defer close(acceptDone)
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		silent.Close()
		<-acceptDone
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	u := New(nil, Options{Credentials: insecure.NewCredentials(), ReconnectMin: 100 * time.Millisecond, ReconnectMax: time.Second,
		Keepalive: 10 * time.Second, KeepaliveTimeout: 5 * time.Second}, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	for _, tt := range []struct {
		addr string
		want bool
	}{{serving.Addr().String(), true}, {silent.Addr().String(), false}, {closedAddr, false}} {
		start := time.Now()
		if got := u.probe(ctx, endpoint{Dial: tt.addr, Address: tt.addr}); got != tt.want {
			t.Errorf("probe %s = %v, want %v", tt.addr, got, tt.want)
		}
		if d := time.Since(start); d > probeTimeout+time.Second {
			t.Errorf("probe %s took %s", tt.addr, d)
		}
	}
}

// A return to the preferred aggregator that does not hold doubles the
// probes the next one needs; a session that lasts resets them.
func TestReturnsBackOffAFlappingPreferred(t *testing.T) {
	var r returns
	quiet := slog.New(slog.DiscardHandler)
	r.reset(3)
	r.ended(false, time.Second, quiet) // a fallback's session: no effect
	r.switched()
	r.ended(true, 2*time.Second, quiet)
	if r.probes() != 6 {
		t.Fatalf("after a failed return: %d probes, want 6", r.probes())
	}
	r.ended(true, time.Second, quiet) // not after a return: no effect
	r.switched()
	r.ended(true, time.Second, quiet)
	if r.probes() != 12 {
		t.Fatalf("after a second failed return: %d probes, want 12", r.probes())
	}
	r.ended(true, time.Minute, quiet)
	if r.probes() != 3 {
		t.Fatalf("after a lasting session: %d probes, want 3", r.probes())
	}
	for range 10 {
		r.switched()
		r.ended(true, 0, quiet)
	}
	if r.probes() != maxProbes {
		t.Fatalf("%d probes, want the cap %d", r.probes(), maxProbes)
	}
}
