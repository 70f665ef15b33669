package scrape

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A real metrics server: series summed by name, split by the labels asked
// for, histograms as _sum and _count; /readyz read whether it passes or
// not.
func TestGetAndReady(t *testing.T) {
	reg := prometheus.NewRegistry()
	sites := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeline_test_site_connected", Help: "h"}, []string{"site"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lifeline_test_errors_total", Help: "h"}, []string{"class"})
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lifeline_test_wait_seconds", Help: "h"})
	reg.MustRegister(sites, errs, h)
	sites.WithLabelValues("S2").Set(0)
	sites.WithLabelValues("S1").Set(1)
	errs.WithLabelValues("transient").Add(2)
	errs.WithLabelValues("permanent").Add(1)
	h.Observe(0.25)
	s := obs.NewServer(obs.MetricsConfig{Listen: "127.0.0.1:0"}, reg, nil)
	s.AddReadiness("clickhouse", func(context.Context) (string, error) { return "", errors.New("connection refused") })
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	base := "http://" + s.Addr()

	m, err := Get(t.Context(), base+"/metrics", "site", "class")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]float64{
		"lifeline_test_site_connected": 1, "lifeline_test_site_connected/S1": 1, "lifeline_test_site_connected/S2": 0,
		"lifeline_test_errors_total": 3, "lifeline_test_errors_total/transient": 2,
		"lifeline_test_wait_seconds_sum": 0.25, "lifeline_test_wait_seconds_count": 1,
	} {
		if got, ok := m[k]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
		}
	}
	if got := m.Labels("lifeline_test_site_connected"); !slices.Equal(got, []string{"S1", "S2"}) {
		t.Errorf("sites %v", got)
	}

	rep, err := Ready(t.Context(), base+"/readyz")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != "failed" || len(rep.Checks) != 1 || rep.Checks[0].Error != "connection refused" {
		t.Fatalf("readyz %+v", rep)
	}
	if _, err := Get(t.Context(), base+"/nothing"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("a missing page: %v", err)
	}
}

func TestGetUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if _, err := Get(t.Context(), "http://"+addr+"/metrics"); err == nil || !strings.Contains(err.Error(), "(is it running?)") {
		t.Fatalf("nothing listening: %v", err)
	}
}

func TestText(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Count(950), "950"}, {Count(12345), "12.3k"}, {Count(4.5e6), "4.5M"}, {Count(2e9), "2.0G"},
		{Bytes(512), "512 B"}, {Bytes(3 << 20), "3.0 MiB"}, {Duration(0), "-"}, {Duration(61.4), "1m1s"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
