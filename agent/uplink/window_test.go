package uplink

import (
	"sync"
	"testing"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// grantingAggregator grants an admission window in its Welcome (and, if
// ackGrant is set, in every Ack) and acks the oldest unacked batch every
// few milliseconds, recording the most samples each window (live,
// backlog) had unacked at once.
type grantingAggregator struct {
	lifelinev1.UnimplementedIngestServer
	welcomeGrant, ackGrant uint32

	mu      sync.Mutex
	pending []*lifelinev1.Batch
	unacked map[bool]int // by backfill
	most    map[bool]int
	seen    int
}

func (f *grantingAggregator) Stream(st lifelinev1.Ingest_StreamServer) error {
	if _, err := st.Recv(); err != nil {
		return err
	}
	if err := st.Send(&lifelinev1.AggregatorMessage{Body: &lifelinev1.AggregatorMessage_Welcome{
		Welcome: &lifelinev1.Welcome{MaxBatchSamples: 1000, WindowSamples: f.welcomeGrant}}}); err != nil {
		return err
	}
	ackErr := make(chan error, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() { ackErr <- f.ackSlowly(st, stop) }()
	for {
		msg, err := st.Recv()
		if err != nil {
			return err
		}
		b := msg.GetBatch()
		if b == nil {
			continue
		}
		f.mu.Lock()
		f.seen++
		f.pending = append(f.pending, b)
		f.unacked[b.GetBackfill()] += len(b.GetSamples())
		f.most[b.GetBackfill()] = max(f.most[b.GetBackfill()], f.unacked[b.GetBackfill()])
		f.mu.Unlock()
		select {
		case err := <-ackErr:
			return err
		default:
		}
	}
}

// ackSlowly acks one batch every 3 ms, oldest first; it is the only sender
// after the welcome.
func (f *grantingAggregator) ackSlowly(st lifelinev1.Ingest_StreamServer, stop <-chan struct{}) error {
	t := time.NewTicker(3 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-t.C:
		}
		f.mu.Lock()
		if len(f.pending) == 0 {
			f.mu.Unlock()
			continue
		}
		b := f.pending[0]
		f.pending = f.pending[1:]
		f.unacked[b.GetBackfill()] -= len(b.GetSamples())
		f.mu.Unlock()
		ack := &lifelinev1.Ack{Seq: b.GetSeq(), WindowSamples: f.ackGrant}
		if err := st.Send(&lifelinev1.AggregatorMessage{Body: &lifelinev1.AggregatorMessage_Ack{Ack: ack}}); err != nil {
			return err
		}
	}
}

// runGranted drains 30 backlog batches and 30 live ones of one sample each
// through f and returns the most samples each window had unacked at once.
func runGranted(t *testing.T, f *grantingAggregator) (backlog, live int) {
	t.Helper()
	f.unacked, f.most = map[bool]int{}, map[bool]int{}
	q := openQueue(t)
	fill(t, q, 30)
	u, stop := runUplink(t, q, serve(t, f), func(o *Options) { o.MaxInFlight = 8 })
	defer stop()
	deadline := time.Now().Add(10 * time.Second)
	for !u.Stats().Connected && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	for range 30 {
		fill(t, q, 1)
		time.Sleep(time.Millisecond)
	}
	waitEmpty(t, q)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen != 60 {
		t.Errorf("aggregator received %d batches, want 60", f.seen)
	}
	return f.most[true], f.most[false]
}

// An agent never has more samples unacked, per window, than the
// aggregator grants, however many batches max_in_flight allows.
func TestWindowHonoursGrant(t *testing.T) {
	backlog, live := runGranted(t, &grantingAggregator{welcomeGrant: 3})
	if backlog > 3 || live > 3 {
		t.Errorf("unacked samples: backlog %d, live %d; granted 3", backlog, live)
	}
	if backlog == 0 || live == 0 {
		t.Errorf("unacked samples: backlog %d, live %d; want both windows used", backlog, live)
	}
}

// A grant in an Ack replaces the Welcome's.
func TestWindowTakesAckGrant(t *testing.T) {
	backlog, _ := runGranted(t, &grantingAggregator{welcomeGrant: 1, ackGrant: 5})
	if backlog > 5 || backlog < 2 {
		t.Errorf("backlog had %d samples unacked; the acks grant 5 after the welcome's 1", backlog)
	}
}

// An aggregator without the field (older ones) leaves max_in_flight the
// only bound, as before.
func TestWindowWithoutGrant(t *testing.T) {
	backlog, _ := runGranted(t, &grantingAggregator{})
	if backlog > 8 || backlog < 4 {
		t.Errorf("backlog had %d samples unacked; want up to max_in_flight 8", backlog)
	}
}
