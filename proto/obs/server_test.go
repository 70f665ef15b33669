package obs

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServerServesMetricsAndPprof(t *testing.T) {
	for _, pprof := range []bool{false, true} {
		reg := prometheus.NewRegistry()
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: "lifeline_test_things_total", Help: "Things."})
		reg.MustRegister(c)
		c.Add(3)
		s := NewServer(MetricsConfig{Listen: "127.0.0.1:0", Pprof: pprof}, reg, nil)
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		addr := s.Addr()
		base := "http://" + addr
		if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, "lifeline_test_things_total 3") {
			t.Fatalf("/metrics: %d %q", code, body)
		}
		want := http.StatusNotFound
		if pprof {
			want = http.StatusOK
		}
		if code, _ := get(t, base+"/debug/pprof/"); code != want {
			t.Fatalf("pprof %v: /debug/pprof/ answered %d, want %d", pprof, code, want)
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatalf("second Shutdown: %v", err)
		}
		if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			t.Fatal("listener still open after Shutdown")
		}
	}
}

func TestServerStartFailsOnBadConfigOrBusyPort(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	for _, listen := range []string{"no-port", lis.Addr().String()} {
		s := NewServer(MetricsConfig{Listen: listen}, prometheus.NewRegistry(), nil)
		if err := s.Start(context.Background()); err == nil {
			t.Errorf("Start(%q) succeeded", listen)
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown after failed Start: %v", err)
		}
	}
}

func TestServerDisabledAndShutdownWithoutStart(t *testing.T) {
	s := NewServer(MetricsConfig{}, prometheus.NewRegistry(), nil)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown without Start: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.Addr() != "" {
		t.Fatalf("disabled server bound %s", s.Addr())
	}
	if err := s.Start(context.Background()); err == nil {
		t.Fatal("second Start succeeded")
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { _ = s.Shutdown(context.Background()) })
	}
	wg.Wait()
}
