package uplink

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/lifeline-telemetry/lifeline/agent/batcher"
	"github.com/lifeline-telemetry/lifeline/agent/buffer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// ackingAggregator acks every batch delay after it arrives (at once when
// delay is 0) and counts its samples.
type ackingAggregator struct {
	lifelinev1.UnimplementedIngestServer
	delay   time.Duration
	samples atomic.Uint64
}

type dueAck struct {
	seq uint64
	due time.Time
}

func (a *ackingAggregator) Stream(st lifelinev1.Ingest_StreamServer) error {
	if _, err := st.Recv(); err != nil {
		return err
	}
	if err := st.Send(&lifelinev1.AggregatorMessage{Body: &lifelinev1.AggregatorMessage_Welcome{
		Welcome: &lifelinev1.Welcome{MaxBatchSamples: 50000}}}); err != nil {
		return err
	}
	acks := make(chan dueAck, 1024)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(acks)
	wg.Go(func() {
		for a := range acks {
			time.Sleep(time.Until(a.due))
			if err := st.Send(&lifelinev1.AggregatorMessage{Body: &lifelinev1.AggregatorMessage_Ack{Ack: &lifelinev1.Ack{Seq: a.seq}}}); err != nil {
				for range acks {
				}
				return
			}
		}
	})
	for {
		msg, err := st.Recv()
		if err != nil {
			return err
		}
		b := msg.GetBatch()
		if b == nil {
			continue
		}
		a.samples.Add(uint64(len(b.GetSamples())))
		acks <- dueAck{b.GetSeq(), time.Now().Add(a.delay)}
	}
}

// BenchmarkPipeline runs the agent's data path as the service wires it
// (batcher → Badger buffer with fsync per batch → uplink → a loopback
// aggregator stub) at 100,000 samples/s offered, 100 per call as an OPC UA
// notification brings them, for one second per iteration. It reports the
// peak heap in use and what the aggregator acked. With
// PIPELINE_HEAP_PROFILE set, it writes a heap profile there at the end of
// the run, before the pipeline stops. The "unbounded" case is the batcher
// without its pending bound, for comparison in the same run. In the
// "slow-acks" case the stub acks each batch 1 s after it arrives, as a
// loaded aggregator does (make bench measured ack latencies of seconds),
// and within the 64 batches in flight that still carries 100,000 samples/s,
// so batches outlive the memtable and the buffer flushes and compacts
// tables as it does in production.
func BenchmarkPipeline(b *testing.B) {
	for _, c := range []struct {
		name     string
		pending  int
		ackDelay time.Duration
	}{{"bounded", 0, 0}, {"unbounded", 1 << 40, 0}, {"slow-acks", 0, time.Second}} {
		b.Run(c.name, func(b *testing.B) { benchPipeline(b, c.pending, c.ackDelay) })
	}
}

func benchPipeline(b *testing.B, maxPending int, ackDelay time.Duration) {
	agg := &ackingAggregator{delay: ackDelay}
	addr := servePipeline(b, agg)
	q, err := buffer.Open(b.TempDir(), buffer.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	log := slog.New(slog.DiscardHandler)
	bt := batcher.New(q, batcher.Options{MaxSamples: 2000, MaxWait: 200 * time.Millisecond, MaxPendingBytes: maxPending}, log)
	up := New(q, Options{Address: addr, Credentials: insecure.NewCredentials(), Hello: &lifelinev1.Hello{SiteId: "S1"},
		MaxInFlight: 64, ReconnectMin: 20 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
		Keepalive: 10 * time.Second, KeepaliveTimeout: 5 * time.Second}, log)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = bt.Run(ctx) })
	wg.Go(func() { _ = up.Run(ctx) })
	peak := &heapPeak{}
	wg.Go(func() { peak.watch(ctx) })

	const points, per = 10000, 100
	ids := make([]string, points)
	for i := range ids {
		ids[i] = fmt.Sprintf("LOAD.P%05d", i+1)
	}
	// Paced by the clock, not by ticks: a producer that fell behind
	// catches up, as an OPC UA server hands over what its queues kept.
	const rate = 100000
	cpu0 := processCPU()
	start := time.Now()
	total := b.N * rate
	tick := time.NewTicker(time.Millisecond)
	n := 0
	for n < total {
		<-tick.C
		due := min(total, int(time.Since(start).Seconds()*rate))
		for ; n+per <= due; n += per {
			bt.Write(notification(ids, start, n, per))
		}
	}
	tick.Stop()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	if path := os.Getenv("PIPELINE_HEAP_PROFILE"); path != "" {
		writeHeapProfile(b, fmt.Sprintf("%s.%s", path, b.Name()[len("BenchmarkPipeline/"):]))
	}
	acked := agg.samples.Load()
	cancel()
	wg.Wait()
	b.ReportMetric(float64(n)/elapsed.Seconds(), "offered/s")
	b.ReportMetric(float64(acked)/elapsed.Seconds(), "acked/s")
	b.ReportMetric(float64(peak.max.Load())/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(peak.rss.Load())/(1<<20), "peak-rssanon-MiB")
	b.ReportMetric(float64(bt.Stored())/elapsed.Seconds(), "stored/s")
	// The whole test process: the producer and the aggregator stub are
	// in it too, the same in every variant.
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cpu-cores")
}

func servePipeline(b *testing.B, a *ackingAggregator) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	lifelinev1.RegisterIngestServer(srv, a)
	go func() { _ = srv.Serve(lis) }()
	b.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// notification returns per samples numbered from n, round-robin over ids
// at 10 Hz per point.
func notification(ids []string, start time.Time, n, per int) []*lifelinev1.Sample {
	note := make([]*lifelinev1.Sample, per)
	for k := range note {
		i := n + k
		ts := start.UnixNano() + int64(i/len(ids))*int64(100*time.Millisecond)
		note[k] = &lifelinev1.Sample{PointId: ids[i%len(ids)], SourceTimeNs: ts, ServerTimeNs: ts, ReceiveTimeNs: ts + 2e6,
			Value: &lifelinev1.Sample_Number{Number: float64(i%1000) / 10}}
	}
	return note
}

// heapPeak samples the heap in use and the anonymous resident set (heap,
// stacks, off-heap buffers; not the page cache of Badger's mapped files)
// every 50 ms.
type heapPeak struct{ max, rss atomic.Uint64 }

func (h *heapPeak) watch(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	var ms runtime.MemStats
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > h.max.Load() {
				h.max.Store(ms.HeapInuse)
			}
			if r := rssAnon(); r > h.rss.Load() {
				h.rss.Store(r)
			}
		}
	}
}

// rssAnon returns RssAnon from /proc/self/status in bytes (0 elsewhere).
func rssAnon() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}
