package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// benchBatch returns a batch of size samples over points points.
func benchBatch(size, points int) (*lifelinev1.Batch, catalog) {
	known := make(catalog, points)
	base := time.Now().Add(-time.Hour).UnixNano()
	b := &lifelinev1.Batch{}
	for i := range size {
		id := fmt.Sprintf("LOAD.P%05d", i%points+1)
		known[id] = id
		ts := base + int64(i/points)*int64(100*time.Millisecond)
		b.Samples = append(b.Samples, &lifelinev1.Sample{PointId: id, SourceTimeNs: ts, ServerTimeNs: ts,
			ReceiveTimeNs: ts + 2e6, Value: &lifelinev1.Sample_Number{Number: float64(i % 1000)}})
	}
	return b, known
}

// BenchmarkFilter validates a batch of 2,000 samples, all valid.
func BenchmarkFilter(b *testing.B) {
	const size = 2000
	batch, known := benchBatch(size, 1000)
	s := NewService(nil, nil, nil, DefaultOptions(), NewMetrics(nil), slog.New(slog.DiscardHandler))
	now := time.Now()
	samples := make([]*lifelinev1.Sample, size)
	b.ReportAllocs()
	for b.Loop() {
		copy(samples, batch.Samples)
		if valid, rejected := s.filter(samples, known, now); len(valid) != size || len(rejected) != 0 {
			b.Fatalf("%d valid, %d rejected", len(valid), len(rejected))
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "samples/s")
}

// instantWriter commits every batch at once.
type instantWriter struct{}

func (instantWriter) Submit(_ context.Context, _ *store.Batch, done func(error)) error {
	done(nil)
	return nil
}

// BenchmarkStream sends batches of 2,000 samples over a real gRPC stream
// on loopback, up to 32 awaiting an ack, to a service whose writer commits
// at once: the aggregator's receive path per sample, without ClickHouse.
func BenchmarkStream(b *testing.B) {
	const size, window = 2000, 32
	logger := slog.New(slog.DiscardHandler)
	ledger := &memLedger{committed: map[string][]*lifelinev1.SeqRange{}, catalogs: map[string][]*lifelinev1.Point{}}
	opts := DefaultOptions()
	opts.RequirePeerIdentity = false
	svc := NewService(ledger, instantWriter{}, nil, opts, NewMetrics(nil), logger)
	cfg := DefaultServerConfig()
	cfg.Listen, cfg.TLS.Insecure = "127.0.0.1:0", true
	recv := NewReceiver(cfg, svc, logger)
	if err := recv.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = recv.Shutdown(ctx)
	}()
	conn, err := grpc.NewClient(recv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := lifelinev1.NewIngestClient(conn).Stream(ctx)
	if err != nil {
		b.Fatal(err)
	}
	batch, known := benchBatch(size, 1000)
	h := &lifelinev1.Hello{SiteId: "BENCH", AgentVersion: "bench"}
	for id := range known {
		h.Points = append(h.Points, &lifelinev1.Point{Id: id})
	}
	if err := stream.Send(&lifelinev1.AgentMessage{Body: &lifelinev1.AgentMessage_Hello{Hello: h}}); err != nil {
		b.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		b.Fatal(err)
	}
	acked := make(chan error, 1)
	tickets := make(chan struct{}, window) // one per batch awaiting its ack
	msg := &lifelinev1.AgentMessage{Body: &lifelinev1.AgentMessage_Batch{Batch: batch}}
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for range b.N {
			if _, err := stream.Recv(); err != nil {
				acked <- err
				return
			}
			<-tickets
		}
		acked <- nil
	}()
	for i := range b.N {
		tickets <- struct{}{}
		batch.Seq = uint64(i + 1)
		if err := stream.Send(msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-acked; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "samples/s")
}
