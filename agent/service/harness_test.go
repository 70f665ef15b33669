package service

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

type sampleKey struct {
	point string
	ts    int64
}

// aggregator stands in for the aggregator over real gRPC: it acks every
// batch at once and keeps what arrived. It can be stopped and started
// again on the same address.
type aggregator struct {
	lifelinev1.UnimplementedIngestServer
	addr string

	mu       sync.Mutex
	received map[sampleKey]bool
	gaps     []*lifelinev1.Gap
	srv      *grpc.Server
	done     chan struct{}
}

// freeAddr returns a loopback address whose port was free just now.
func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().String()
}

func newAggregator(t *testing.T) *aggregator {
	a := &aggregator{addr: freeAddr(t), received: map[sampleKey]bool{}}
	t.Cleanup(a.stop)
	return a
}

func (a *aggregator) start(t *testing.T) {
	t.Helper()
	lis, err := net.Listen("tcp", a.addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	lifelinev1.RegisterIngestServer(srv, a)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	a.mu.Lock()
	a.srv, a.done = srv, done
	a.mu.Unlock()
}

func (a *aggregator) stop() {
	a.mu.Lock()
	srv, done := a.srv, a.done
	a.srv = nil
	a.mu.Unlock()
	if srv != nil {
		srv.Stop()
		<-done
	}
}

func (a *aggregator) Stream(st lifelinev1.Ingest_StreamServer) error {
	if _, err := st.Recv(); err != nil {
		return err
	}
	if err := st.Send(&lifelinev1.AggregatorMessage{Body: &lifelinev1.AggregatorMessage_Welcome{
		Welcome: &lifelinev1.Welcome{MaxBatchSamples: config.MaxBatchSamples}}}); err != nil {
		return err
	}
	for {
		msg, err := st.Recv()
		if err != nil {
			return err
		}
		b := msg.GetBatch()
		if b == nil {
			continue
		}
		a.mu.Lock()
		for _, s := range b.Samples {
			a.received[sampleKey{s.PointId, s.SourceTimeNs}] = true
		}
		a.gaps = append(a.gaps, b.Gaps...)
		a.mu.Unlock()
		if err := st.Send(&lifelinev1.AggregatorMessage{Body: &lifelinev1.AggregatorMessage_Ack{Ack: &lifelinev1.Ack{Seq: b.Seq}}}); err != nil {
			return err
		}
	}
}

func (a *aggregator) has(k sampleKey) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.received[k]
}

func (a *aggregator) gapsOf(reason string) []*lifelinev1.Gap {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*lifelinev1.Gap
	for _, g := range a.gaps {
		if g.Reason == reason {
			out = append(out, g)
		}
	}
	return out
}

// tapped keeps every sample the agent read, by receive time.
type tapped struct {
	mu      sync.Mutex
	samples []*lifelinev1.Sample
}

func (r *tapped) tap(ss []*lifelinev1.Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range ss {
		r.samples = append(r.samples, &lifelinev1.Sample{PointId: s.PointId, SourceTimeNs: s.SourceTimeNs, ReceiveTimeNs: s.ReceiveTimeNs})
	}
}

// keys returns the distinct samples read (a server re-sends values after a
// resubscribe; the agent keeps them once).
func (r *tapped) keys() map[sampleKey]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[sampleKey]bool, len(r.samples))
	for _, s := range r.samples {
		out[sampleKey{s.PointId, s.SourceTimeNs}] = true
	}
	return out
}

// readAfter reports whether a sample was read after t (receive time).
func (r *tapped) readAfter(t time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.samples {
		if s.ReceiveTimeNs > t.UnixNano() {
			n++
		}
	}
	return n
}

func startSim(t *testing.T, o plantsim.Options) *plantsim.Sim {
	t.Helper()
	o.ExcursionsPerHour = -1
	if o.Tick == 0 {
		o.Tick = 100 * time.Millisecond
	}
	sim := plantsim.New(o)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sim.Shutdown(ctx)
	})
	return sim
}

// runAgent runs the agent in-process until the returned stop is called
// (also at cleanup).
func runAgent(t *testing.T, cfg config.Config, tap func([]*lifelinev1.Sample)) (*Agent, func()) {
	t.Helper()
	a := New(cfg, "test", testLogger(), WithTap(tap))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	waitFor(t, "the metrics endpoint", 10*time.Second, func() bool { return a.MetricsAddr() != "" })
	return a, stop
}

func agentConfig(sim *plantsim.Sim, aggAddr, bufferDir string) config.Config {
	cfg := sim.AgentConfig(aggAddr, bufferDir, "T01")
	cfg.Metrics.Listen = "127.0.0.1:0"
	cfg.StatusPage.Listen = "127.0.0.1:0"
	cfg.Aggregator.ReconnectMin = config.Duration(50 * time.Millisecond)
	cfg.Aggregator.ReconnectMax = config.Duration(200 * time.Millisecond)
	cfg.Aggregator.ShutdownDrain = config.Duration(time.Second)
	cfg.Sources[0].PublishingInterval = config.Duration(100 * time.Millisecond)
	cfg.Sources[0].ReconnectMin = config.Duration(200 * time.Millisecond)
	cfg.Sources[0].ReconnectMax = config.Duration(time.Second)
	return cfg
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrape reads the agent's /metrics: values by name, summed over labels,
// and by name/source for metrics labelled by source.
func scrape(t *testing.T, a *Agent) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + a.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]float64{}
	for name, f := range families {
		for _, mt := range f.GetMetric() {
			v := mt.GetGauge().GetValue() + mt.GetCounter().GetValue()
			m[name] += v
			for _, l := range mt.GetLabel() {
				if l.GetName() == "source" {
					m[fmt.Sprintf("%s/%s", name, l.GetValue())] += v
				}
			}
		}
	}
	return m
}
