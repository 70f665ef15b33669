package opcua

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// counter is a Sink that only counts.
type counter struct{ n atomic.Uint64 }

func (c *counter) Write(s []*lifelinev1.Sample) { c.n.Add(uint64(len(s))) }

// loadSource reads the simulator's n load points.
func loadSource(endpoint string, n int) config.Source {
	src := config.Source{Name: "load", Endpoint: endpoint, PublishingInterval: config.Duration(100 * time.Millisecond), SamplingInterval: config.Duration(100 * time.Millisecond)}
	config.SourceDefaults(&src)
	for i := 1; i <= n; i++ {
		src.Points = append(src.Points, config.Point{ID: fmt.Sprintf("L%05d", i), Node: fmt.Sprintf("nsu=urn:lifeline:plantsim;s=Load.P%05d", i)})
	}
	return src
}

// startLoadSim serves 10,000 points at 10 Hz. It runs bin/lifeline-plantsim
// in its own process when built (make bench builds it), so that the
// measured CPU and RSS are the reader's alone; otherwise in this process.
func startLoadSim(b *testing.B, points int, rate float64) (endpoint string, separate bool) {
	bin := filepath.Join(repoRootB(b), "bin", "lifeline-plantsim")
	l, err := netListen()
	if err != nil {
		b.Fatal(err)
	}
	addr := l
	if _, err := os.Stat(bin); err == nil {
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "run", "--listen", addr, "--points", strconv.Itoa(points), "--rate", fmt.Sprint(rate), "--excursions-per-hour", "-1", "--log-level", "warn")
		cmd.WaitDelay = 5 * time.Second
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cmd.Process.Signal(os.Interrupt); time.Sleep(200 * time.Millisecond); cancel(); cmd.Wait() })
		time.Sleep(2 * time.Second) // build the address space
		return "opc.tcp://" + addr, true
	}
	sim := plantsim.New(plantsim.Options{Addr: addr, Points: points, Rate: rate, ExcursionsPerHour: -1})
	if err := sim.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sim.Shutdown(ctx)
	})
	return sim.Endpoint(), false
}

// BenchmarkReaderPlantsim10kAt10Hz: values/s the reader sustains from the
// simulator with 10,000 points changing at 10 Hz (100,000 changes/s), and
// its CPU and RSS while doing it. Each iteration is 10 s of reading.
func BenchmarkReaderPlantsim10kAt10Hz(b *testing.B) {
	const points, rate = 10000, 10.0
	endpoint, separate := startLoadSim(b, points, rate)
	sink := &counter{}
	r := New(loadSource(endpoint, points), sink, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(30 * time.Second)
	for sink.n.Load() < points && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // settle
	b.ResetTimer()
	var values uint64
	var elapsed, cpu time.Duration
	var rssMax int64
	for range b.N {
		n0, c0, t0 := sink.n.Load(), cpuTime(), time.Now()
		for end := t0.Add(10 * time.Second); time.Now().Before(end); {
			time.Sleep(500 * time.Millisecond)
			rssMax = max(rssMax, rssBytes())
		}
		values += sink.n.Load() - n0
		cpu += cpuTime() - c0
		elapsed += time.Since(t0)
	}
	b.StopTimer()
	b.ReportMetric(float64(values)/elapsed.Seconds(), "values/s")
	b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds(), "cpu%")
	b.ReportMetric(float64(rssMax)/(1<<20), "rss-MiB")
	if !separate {
		b.Log("simulator ran in this process: CPU and RSS include it (run make bench to build bin/lifeline-plantsim)")
	}
}

// BenchmarkReconnectMemory: 100 reconnects of a 10,000-point reader (the
// simulator drops every connection); heap and RSS before and after must
// not grow with the number of reconnects. The simulator runs in this
// process, so the figures include it.
func BenchmarkReconnectMemory(b *testing.B) {
	const points = 10000
	sim := plantsim.New(plantsim.Options{Addr: "127.0.0.1:0", Points: points, Rate: 1, ExcursionsPerHour: -1})
	if err := sim.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sim.Shutdown(ctx)
	}()
	src := loadSource(sim.Endpoint(), points)
	src.ReconnectMin, src.ReconnectMax = config.Duration(10*time.Millisecond), config.Duration(20*time.Millisecond)
	sink := &counter{}
	r := New(src, sink, benchLogger())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// Each round waits for a full round of data on the new subscription
	// before dropping it again; a round that takes a minute means the
	// server stopped answering.
	reconnect := func(k int) {
		for i := 0; i < k; i++ {
			before := r.Stats().Reconnects
			n0 := sink.n.Load()
			deadline := time.Now().Add(time.Minute)
			for !r.Stats().Connected || sink.n.Load() < n0+points {
				if time.Now().After(deadline) {
					b.Fatalf("round %d: no data within a minute (stats %+v)", i, r.Stats())
				}
				time.Sleep(5 * time.Millisecond)
			}
			sim.DropConnections()
			for r.Stats().Reconnects == before {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	heap := func() (uint64, int64) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse, rssBytes()
	}
	reconnect(5) // warm up
	b.ResetTimer()
	for range b.N {
		h0, r0 := heap()
		reconnect(100)
		h1, r1 := heap()
		b.ReportMetric(float64(int64(h1)-int64(h0))/(1<<20), "heap-growth-MiB")
		b.ReportMetric(float64(r1-r0)/(1<<20), "rss-growth-MiB")
		b.ReportMetric(float64(r1)/(1<<20), "rss-MiB")
	}
}

func repoRootB(b *testing.B) string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "."
		}
		dir = parent
	}
}

func netListen() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func benchLogger() *slog.Logger {
	if os.Getenv("LIFELINE_BENCH_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return nil
}
