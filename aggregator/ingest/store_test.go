package ingest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// stored is an ingest service on real gRPC over loopback, writing through
// a real Writer into a real ClickHouse.
type stored struct {
	store  *store.Store
	client lifelinev1.IngestClient
}

func startStored(t *testing.T, wopts writer.Options) *stored {
	t.Helper()
	addr := chtest.Addr(t)
	cfg := store.DefaultConfig()
	cfg.Addr = addr
	cfg.Database = chtest.Database(t, addr)
	logger := slog.New(slog.DiscardHandler)
	st := store.New(cfg, logger)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.Open(ctx); err != nil {
		t.Fatalf("open store: %v", err)
	}
	w := writer.New(st, wopts, logger)
	wctx, stop := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		_ = w.Run(wctx)
	}()
	opts := DefaultOptions()
	opts.RequirePeerIdentity = false
	svc := NewService(st, w, nil, opts, NewMetrics(nil), logger)
	client := serveLoopback(t, svc, logger, func(context.Context) {
		stop()
		<-ran
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return &stored{store: st, client: client}
}

// open starts a stream for site with points and returns it after Welcome.
func (f *stored) open(t *testing.T, site string, points ...string) lifelinev1.Ingest_StreamClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	st, err := f.client.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(hello(site, points...)); err != nil {
		t.Fatal(err)
	}
	msg, err := st.Recv()
	if err != nil || msg.GetWelcome() == nil {
		t.Fatalf("await welcome: %v %v", msg, err)
	}
	return st
}

// replies reads a stream's acks and nacks into a channel until it ends.
func replies(st lifelinev1.Ingest_StreamClient) <-chan *lifelinev1.AggregatorMessage {
	out := make(chan *lifelinev1.AggregatorMessage, 1024)
	go func() {
		defer close(out)
		for {
			msg, err := st.Recv()
			if err != nil {
				return
			}
			out <- msg
		}
	}()
	return out
}

func (f *stored) exec(t *testing.T, q string) {
	t.Helper()
	if err := chtest.Conn(t, f.store.Config().Addr, f.store.Config().Database).Exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
