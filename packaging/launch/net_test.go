package launch

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

func TestFreeAddrsAreDistinctAndFree(t *testing.T) {
	addrs, err := FreeAddrs(5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[a] || !strings.HasPrefix(a, "127.0.0.1:") {
			t.Fatalf("addresses %v", addrs)
		}
		seen[a] = true
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("%s not free: %v", a, err)
		}
		l.Close()
	}
}

func TestWaitListening(t *testing.T) {
	addrs, err := FreeAddrs(1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// A process that exits before listening fails the wait at once.
	p, err := Start(shell(t), filepath.Join(dir, "early.log"), "-c", "echo no config; exit 1")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitListening(context.Background(), addrs[0]); err == nil || !strings.Contains(err.Error(), "no config") {
		t.Fatalf("WaitListening = %v, want the log's tail", err)
	}
	// A running process that never listens: the context decides.
	p, err = Start(shell(t), filepath.Join(dir, "sleep.log"), "-c", "exec sleep 30")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := p.WaitListening(ctx, addrs[0]); err == nil {
		t.Fatal("WaitListening succeeded with nothing listening")
	}
	l, err := net.Listen("tcp", addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := p.WaitListening(context.Background(), addrs[0]); err != nil {
		t.Fatal(err)
	}
}

func TestScrapeSumsSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lifeline_test_events_total", Help: "h"}, []string{"k"})
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lifeline_test_wait_seconds", Help: "h"})
	reg.MustRegister(c, h)
	c.WithLabelValues("a").Add(2)
	c.WithLabelValues("b").Add(3)
	h.Observe(0.5)
	h.Observe(1.5)
	s := obs.NewServer(obs.MetricsConfig{Listen: "127.0.0.1:0"}, reg, nil)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	m, err := Scrape(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if m["lifeline_test_events_total"] != 5 || m["lifeline_test_wait_seconds_sum"] != 2 || m["lifeline_test_wait_seconds_count"] != 2 {
		t.Fatalf("scraped %v", m)
	}
}
