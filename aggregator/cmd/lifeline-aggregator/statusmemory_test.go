package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// metricsServer serves the Go runtime's series as an aggregator does, its
// counters advanced by gcStep and busyStep CPU seconds at each scrape.
func metricsServer(t *testing.T, gcStep, busyStep, live, limit float64) string {
	var scrapes atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		n := float64(scrapes.Add(1))
		fmt.Fprintf(w, "# TYPE go_cpu_classes_gc_total_cpu_seconds_total counter\ngo_cpu_classes_gc_total_cpu_seconds_total %g\n", 100+n*gcStep)
		fmt.Fprintf(w, "# TYPE go_cpu_classes_total_cpu_seconds_total counter\ngo_cpu_classes_total_cpu_seconds_total %g\n", 2000+n*2*busyStep)
		fmt.Fprintf(w, "# TYPE go_cpu_classes_idle_cpu_seconds_total counter\ngo_cpu_classes_idle_cpu_seconds_total %g\n", 1000+n*busyStep)
		fmt.Fprintf(w, "# TYPE go_gc_heap_live_bytes gauge\ngo_gc_heap_live_bytes %g\n", live)
		fmt.Fprintf(w, "# TYPE go_gc_gomemlimit_bytes gauge\ngo_gc_gomemlimit_bytes %g\n", limit)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// status says when the memory limit, not the load, makes the aggregator
// collect garbage most of its time, and what to do.
func TestStatusShowsATightMemoryLimit(t *testing.T) {
	const mib = 1 << 20
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []struct {
		name                   string
		gcStep, busyStep, live float64
		limit                  float64
		interval               time.Duration
		over                   string
		share                  float64
		tight                  bool
		want                   string
	}{
		{name: "tight over the interval", gcStep: 5, busyStep: 10, live: 300 * mib, limit: 400 * mib, interval: 10 * time.Millisecond,
			over: "interval", share: 0.5, tight: true,
			want: "live heap 300 MiB, a 400 MiB memory limit; garbage collection 50 % of the CPU used (interval): the limit is tight"},
		// 100 + 5 s of 1,000 + 10: under the threshold since start.
		{name: "since start without an interval", gcStep: 5, busyStep: 10, live: 300 * mib, limit: 400 * mib,
			over: "since start", share: 105.0 / 1010, want: "garbage collection 10 % of the CPU used (since start)\n"},
		{name: "busy collecting, small heap", gcStep: 8, busyStep: 10, live: 100 * mib, limit: 400 * mib, interval: 10 * time.Millisecond,
			over: "interval", share: 0.8, want: "live heap 100 MiB, a 400 MiB memory limit; garbage collection 80 % of the CPU used (interval)\n"},
		{name: "no limit", gcStep: 8, busyStep: 10, live: 350 * mib, limit: 1<<63 - 1, interval: 10 * time.Millisecond,
			over: "interval", share: 0.8, want: "live heap 350 MiB, no memory limit; garbage collection 80 % of the CPU used (interval)\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := readStatus(ctx, metricsServer(t, c.gcStep, c.busyStep, c.live, c.limit), c.interval)
			if err != nil {
				t.Fatal(err)
			}
			m := rep.Memory
			if m == nil {
				t.Fatal("no memory section")
			}
			if m.GCCPUShareOver != c.over || m.LimitTight != c.tight || abs(m.GCCPUShare-c.share) > 1e-9 {
				t.Errorf("memory %+v; want share %.3f over %q, tight %v", *m, c.share, c.over, c.tight)
			}
			var out bytes.Buffer
			printStatus(&out, rep)
			if !strings.Contains(out.String(), "  memory      ") || !strings.Contains(out.String(), c.want) {
				t.Errorf("status:\n%s\nwant %q", out.String(), c.want)
			}
			if strings.Contains(out.String(), "raise memory_limit") != c.tight {
				t.Errorf("advice to raise memory_limit shown = %v, want %v:\n%s", !c.tight, c.tight, out.String())
			}
		})
	}
}

// An aggregator without the runtime's series (an older one): no memory
// line rather than a wrong one.
func TestStatusWithoutRuntimeSeries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "# TYPE lifeline_ingest_streams gauge\nlifeline_ingest_streams 3")
	}))
	defer srv.Close()
	rep, err := readStatus(context.Background(), strings.TrimPrefix(srv.URL, "http://"), 0)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	printStatus(&out, rep)
	if rep.Memory != nil || strings.Contains(out.String(), "memory") {
		t.Errorf("memory shown without the series: %+v\n%s", rep.Memory, out.String())
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
