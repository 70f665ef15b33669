package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/lifeline-telemetry/lifeline/agent/buffer"
	"github.com/lifeline-telemetry/lifeline/agent/uplink"
	"github.com/lifeline-telemetry/lifeline/aggregator/ingest"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// refusalRig is an agent's buffer and uplink talking over loopback gRPC to
// an aggregator's ingest and writer on a real ClickHouse, in one process.
type refusalRig struct {
	store *store.Store
	queue *buffer.Queue
	up    *uplink.Uplink
}

func startRefusalRig(t *testing.T, wopts writer.Options, prepare func(*store.Store)) *refusalRig {
	t.Helper()
	addr := chtest.Addr(t)
	cfg := store.DefaultConfig()
	cfg.Addr = addr
	cfg.Database = chtest.Database(t, addr)
	logger := slog.New(slog.DiscardHandler)
	st := store.New(cfg, logger)
	if err := st.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	prepare(st)
	w := writer.New(st, wopts, logger)
	wctx, stopWriter := context.WithCancel(context.Background())
	wdone := make(chan struct{})
	go func() { defer close(wdone); _ = w.Run(wctx) }()
	iopts := ingest.DefaultOptions()
	iopts.RequirePeerIdentity = false
	svc := ingest.NewService(st, w, nil, iopts, ingest.NewMetrics(nil), logger)
	scfg := ingest.DefaultServerConfig()
	scfg.Listen = "127.0.0.1:0"
	scfg.TLS.Insecure = true
	recv := ingest.NewReceiver(scfg, svc, logger)
	if err := recv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	q, err := buffer.Open(t.TempDir(), buffer.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	up := uplink.New(q, uplink.Options{
		Address: recv.Addr(), Credentials: insecure.NewCredentials(),
		Hello:       &lifelinev1.Hello{SiteId: "S1", Park: "P", Points: []*lifelinev1.Point{{Id: "T101.LT"}}},
		MaxInFlight: 8, ReconnectMin: 50 * time.Millisecond, ReconnectMax: 500 * time.Millisecond,
		Keepalive: 10 * time.Second, KeepaliveTimeout: 5 * time.Second,
	}, logger)
	uctx, stopUplink := context.WithCancel(context.Background())
	udone := make(chan struct{})
	go func() { defer close(udone); _ = up.Run(uctx) }()
	t.Cleanup(func() {
		stopUplink()
		<-udone
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = recv.Shutdown(ctx)
		stopWriter()
		<-wdone
		q.Close()
		st.Close()
	})
	return &refusalRig{store: st, queue: q, up: up}
}

// appendBatches buffers n batches of size samples; value(seq, i) gives each.
func (r *refusalRig) appendBatches(t *testing.T, n, size int, value func(seq, i int) float64) {
	t.Helper()
	base := time.Now().Add(-time.Hour)
	for seq := 1; seq <= n; seq++ {
		b := &lifelinev1.Batch{}
		for i := range size {
			b.Samples = append(b.Samples, &lifelinev1.Sample{PointId: "T101.LT",
				SourceTimeNs: base.Add(time.Duration(seq*size+i) * time.Second).UnixNano(),
				Value:        &lifelinev1.Sample_Number{Number: value(seq, i)}})
		}
		data, err := proto.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.queue.Append(data); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *refusalRig) waitEmpty(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	// The uplink deletes acked batches, then counts them: nothing in flight
	// means the counting is done too.
	for r.queue.Stats().Entries > 0 || r.up.Stats().InFlight > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after %s the agent still holds %d batches (uplink %+v)", within, r.queue.Stats().Entries, r.up.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *refusalRig) count(t *testing.T, q string) uint64 {
	t.Helper()
	var n uint64
	if err := chtest.Conn(t, r.store.Config().Addr, r.store.Config().Database).QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// An agent whose batch holds a value ClickHouse refuses for good does not
// stall: the refused row is set aside with its payload, the rest of that
// batch and every later one is stored, and the agent's buffer empties.
func TestRefusalAgentNotStalledBySetAsideRow(t *testing.T) {
	const marker = -999.25
	r := startRefusalRig(t, writer.Options{MaxDelay: 50 * time.Millisecond}, func(st *store.Store) {
		q := fmt.Sprintf("ALTER TABLE samples ADD COLUMN guard UInt8 MATERIALIZED throwIf(value = %v)", marker)
		if err := chtest.Conn(t, st.Config().Addr, st.Config().Database).Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	})
	r.appendBatches(t, 5, 40, func(seq, i int) float64 {
		if seq == 3 && i == 17 {
			return marker
		}
		return float64(i)
	})
	r.waitEmpty(t, 30*time.Second)
	if st := r.up.Stats(); st.SetAside != 1 || st.AckedSamples != 199 {
		t.Fatalf("uplink %+v", st)
	}
	if n := r.count(t, "SELECT count() FROM samples"); n != 199 {
		t.Fatalf("samples %d, want 199", n)
	}
	if n := r.count(t, "SELECT toUInt64(sum(samples)) FROM rejected_batches FINAL WHERE state = 'set_aside'"); n != 1 {
		t.Fatalf("set aside %d samples, want 1", n)
	}
}

// While ClickHouse cannot commit (the samples table is gone), the agent is
// told so with nacks and keeps its batches; once the table is back they
// are stored, exactly once.
func TestRefusalAgentKeepsNackedBatches(t *testing.T) {
	r := startRefusalRig(t, writer.Options{MaxDelay: 50 * time.Millisecond, RetryBackoff: 50 * time.Millisecond,
		MaxRetryBackoff: 200 * time.Millisecond, GiveUpAfter: time.Second}, func(st *store.Store) {
		if err := chtest.Conn(t, st.Config().Addr, st.Config().Database).Exec(context.Background(), "RENAME TABLE samples TO samples_away"); err != nil {
			t.Fatal(err)
		}
	})
	r.appendBatches(t, 3, 10, func(_, i int) float64 { return float64(i) })
	deadline := time.Now().Add(20 * time.Second)
	for r.up.Stats().Nacks == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no nack while ClickHouse cannot commit (uplink %+v)", r.up.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := r.queue.Stats().Entries; n != 3 {
		t.Fatalf("agent holds %d batches after a nack, want 3", n)
	}
	if err := chtest.Conn(t, r.store.Config().Addr, r.store.Config().Database).Exec(context.Background(), "RENAME TABLE samples_away TO samples"); err != nil {
		t.Fatal(err)
	}
	r.waitEmpty(t, 30*time.Second)
	if n := r.count(t, "SELECT count() FROM samples"); n != 30 {
		t.Fatalf("samples %d, want 30", n)
	}
}
