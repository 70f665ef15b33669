package uplink

import (
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// waitUntil polls cond every 5 ms for up to limit.
func waitUntil(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Reconnects counts links re-established, not attempts: dialling an
// aggregator that is not up yet many times, then connecting, is no
// reconnect; one stream cut and re-opened is one.
func TestReconnectsCountsReestablishments(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()

	f := &fakeAggregator{seen: map[uint64]int{}, backfill: map[uint64]bool{}, cutAfter: 3}
	q := openQueue(t)
	fill(t, q, 10)
	u, stop := runUplink(t, q, addr)
	defer stop()
	time.Sleep(500 * time.Millisecond) // several failed attempts (backoff 20–100 ms)

	lis, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	lifelinev1.RegisterIngestServer(srv, f)
	go srv.Serve(lis)
	defer srv.Stop()

	waitEmpty(t, q)
	f.mu.Lock()
	streams := f.streams
	f.mu.Unlock()
	if streams != 2 {
		t.Fatalf("%d streams, want 2 (one cut after 3 batches)", streams)
	}
	if got := u.Stats().Reconnects; got != 1 {
		t.Fatalf("Reconnects = %d, want 1: the link was re-established once", got)
	}
}

// Draining ends when the backlog has been sent, not at the next reconnect.
func TestDrainingEndsWithTheBacklog(t *testing.T) {
	f := &fakeAggregator{seen: map[uint64]int{}, backfill: map[uint64]bool{}}
	q := openQueue(t)
	fill(t, q, 40)
	u, stop := runUplink(t, q, serve(t, f))
	defer stop()
	waitUntil(t, "the link", 5*time.Second, func() bool { return u.Stats().Connected })
	waitEmpty(t, q)
	waitUntil(t, "draining to end once the backlog is sent", 2*time.Second, func() bool { return !u.Stats().Draining })
}
