package opcua

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// BenchmarkPoll10kAt1Hz: the reader polling the simulator's 10,000 load
// points (changing at 2 Hz, so every poll finds every value new) once a
// second, in Read requests of the simulator's MaxNodesPerRead: its CPU
// per poll and as cores, and what it allocates per poll. Each iteration
// is 10 s of polling.
func BenchmarkPoll10kAt1Hz(b *testing.B) {
	const points, rate = 10000, 2.0
	endpoint, separate := startLoadSim(b, points, rate)
	sink := &counter{}
	src := loadSource(endpoint, points)
	src.ReadMode, src.PollInterval = "poll", config.Duration(time.Second)
	r := New(src, sink, benchLogger())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(30 * time.Second)
	for r.Stats().Polls < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if r.Stats().Polls < 2 {
		b.Fatalf("no polls within 30 s: %+v", r.Stats())
	}
	b.ResetTimer()
	var polls, values, mallocs, bytes uint64
	var elapsed, cpu time.Duration
	var ms runtime.MemStats
	for range b.N {
		runtime.ReadMemStats(&ms)
		p0, n0, m0, by0, c0, t0 := r.Stats().Polls, sink.n.Load(), ms.Mallocs, ms.TotalAlloc, cpuTime(), time.Now()
		time.Sleep(10 * time.Second)
		runtime.ReadMemStats(&ms)
		polls += r.Stats().Polls - p0
		values += sink.n.Load() - n0
		mallocs += ms.Mallocs - m0
		bytes += ms.TotalAlloc - by0
		cpu += cpuTime() - c0
		elapsed += time.Since(t0)
	}
	b.StopTimer()
	b.ReportMetric(float64(values)/elapsed.Seconds(), "values/s")
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cores")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(polls), "cpu-ms/poll")
	b.ReportMetric(float64(mallocs)/float64(polls), "allocs/poll")
	b.ReportMetric(float64(bytes)/float64(polls)/(1<<20), "MiB/poll")
	if !separate {
		b.Log("simulator ran in this process: CPU and allocations include it (run make build to build bin/lifeline-plantsim)")
	}
}
