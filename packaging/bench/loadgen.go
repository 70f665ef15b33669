package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// LoadOptions shape a load run: Agents concurrent agents, each a gRPC
// stream of its own connection, speaking the real protocol (hello,
// batches, acks awaited up to MaxInFlight).
type LoadOptions struct {
	Addr           string
	Site           string // prefix of the agents' site IDs
	Agents         int
	PointsPerAgent int
	BatchSamples   int
	MaxInFlight    int
	Warmup         time.Duration
	Duration       time.Duration
	// Rate caps the samples per second all agents send together; 0 sends
	// as fast as acks allow.
	Rate float64
	// IgnoreWindow sends as an agent older than the admission window
	// would: up to MaxInFlight batches, whatever the aggregator grants.
	IgnoreWindow bool
	// SourceAddrs spreads the agents' connections over that many loopback
	// source addresses (127.0.1.1, 127.0.1.2 …), as sites behind several
	// NATs: the aggregator holds each address to
	// server.limits.streams_per_address. 0 dials from 127.0.0.1.
	SourceAddrs int
	// Welcomed, if set, is called once every agent was welcomed.
	Welcomed func()
}

// LoadResult is what the window measured.
type LoadResult struct {
	Samples        uint64 // acked within the window
	Elapsed        time.Duration
	Rate           float64 // acked samples per second
	AckP50, AckP99 time.Duration
	AckMean        time.Duration
	Acks           int
}

// loadGen is the shared state of one run's agents.
type loadGen struct {
	opts      LoadOptions
	ready     chan struct{} // closed once every agent was welcomed or gave up
	unready   atomic.Int64  // agents not yet welcomed
	measuring atomic.Bool
	acked     atomic.Uint64
	mu        sync.Mutex
	latencies []time.Duration
}

// runLoad runs the agents for Warmup+Duration and reports the window.
func runLoad(ctx context.Context, opts LoadOptions) (LoadResult, error) {
	g := &loadGen{opts: opts, ready: make(chan struct{})}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, opts.Agents)
	var wg sync.WaitGroup
	g.unready.Store(int64(opts.Agents))
	if opts.Agents <= 0 {
		close(g.ready)
	}
	for i := range opts.Agents {
		wg.Go(func() {
			welcomed := false
			err := g.agent(ctx, i, func() { welcomed = true; g.isReady() })
			if !welcomed {
				g.isReady()
			}
			if err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("agent %d: %w", i, err)
				cancel()
			}
		})
	}
	var res LoadResult
	wait := func(d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
	// Handshakes (the catalog is saved, the ledger read) are not part of
	// the window: it starts Warmup after the last agent was welcomed.
	select {
	case <-g.ready:
		if opts.Welcomed != nil {
			opts.Welcomed()
		}
	case <-ctx.Done():
		cancel()
		wg.Wait()
		return res, ctx.Err()
	}
	err := wait(opts.Warmup)
	if err == nil {
		start, before := time.Now(), g.acked.Load()
		g.measuring.Store(true)
		err = wait(opts.Duration)
		g.measuring.Store(false)
		res.Elapsed = time.Since(start)
		res.Samples = g.acked.Load() - before
	}
	cancel()
	wg.Wait()
	close(errs)
	if first := <-errs; first != nil {
		return res, first
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return res, err
	}
	res.Rate = float64(res.Samples) / res.Elapsed.Seconds()
	g.mu.Lock()
	res.Acks = len(g.latencies)
	res.AckP50 = quantile(g.latencies, 0.50)
	res.AckP99 = quantile(g.latencies, 0.99)
	res.AckMean = mean(g.latencies)
	g.mu.Unlock()
	return res, nil
}

// agent is one simulated agent: it reuses one Batch message, changing the
// sequence number and timestamps, so the generator costs little beside
// the aggregator it measures.
func (g *loadGen) agent(ctx context.Context, i int, welcomed func()) error {
	dial := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if n := g.opts.SourceAddrs; n > 0 {
		src := &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+i%n))}
		dial = append(dial, grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: src}
			return d.DialContext(ctx, "tcp", addr)
		}))
	}
	conn, err := grpc.NewClient(g.opts.Addr, dial...)
	if err != nil {
		return err
	}
	defer conn.Close()
	stream, welcome, err := g.handshake(ctx, conn, i)
	if err != nil {
		return err
	}
	welcomed()
	encoded, err := g.encodeVariants()
	if err != nil {
		return err
	}
	fl := &inFlight{slots: make(chan struct{}, g.opts.MaxInFlight), sentAt: map[uint64]time.Time{},
		grant: int(welcome.GetWindowSamples()), changed: make(chan struct{}), ignoreGrant: g.opts.IgnoreWindow}
	if fl.ignoreGrant {
		fl.grant = 0
	}
	recvDone := make(chan error, 1)
	// Ends when the stream does: conn.Close on return ends it.
	go func() { recvDone <- g.receiveAcks(stream, fl) }()
	return g.sendBatches(ctx, stream, encoded, fl, recvDone)
}

// handshake opens agent i's stream and trades its hello for a welcome.
func (g *loadGen) handshake(ctx context.Context, conn *grpc.ClientConn, i int) (grpc.ClientStream, *lifelinev1.Welcome, error) {
	o := g.opts
	stream, err := conn.NewStream(ctx, &lifelinev1.Ingest_ServiceDesc.Streams[0], lifelinev1.Ingest_Stream_FullMethodName,
		grpc.ForceCodec(passCodec{}))
	if err != nil {
		return nil, nil, fmt.Errorf("open stream: %w", err)
	}
	site := fmt.Sprintf("%s%03d", o.Site, i)
	hello := &lifelinev1.Hello{SiteId: site, Park: "BENCH", AgentVersion: "bench"}
	for p := range o.PointsPerAgent {
		hello.Points = append(hello.Points, &lifelinev1.Point{Id: pointID(p), Kind: "level", Unit: "m"})
	}
	if err := stream.SendMsg(&lifelinev1.AgentMessage{Body: &lifelinev1.AgentMessage_Hello{Hello: hello}}); err != nil {
		return nil, nil, fmt.Errorf("send hello: %w", err)
	}
	var welcome lifelinev1.AggregatorMessage
	if err := stream.RecvMsg(&welcome); err != nil || welcome.GetWelcome() == nil {
		return nil, nil, fmt.Errorf("await welcome: %v", err)
	}
	return stream, welcome.GetWelcome(), nil
}

// variants is how many distinct encoded batches an agent cycles through.
const variants = 8

// encodedBatch is one of an agent's batches in wire form and where its
// timestamps are, rewritten before each send.
type encodedBatch struct {
	samples []byte
	stamps  []int
}

// encodeVariants encodes the batches an agent sends. Each point has two
// samples a batch (1,000 points, 2,000 samples). Their times are set when
// the batch is sent (see restamp): current and rising, as a live plant's,
// so the aggregator evaluates alarms as it would for one. Times fixed at
// encoding would repeat from one cycle of variants to the next: every
// point then reads as an hour late (stale alarms for all of them) and
// each repeat as history behind its newest value.
func (g *loadGen) encodeVariants() ([]encodedBatch, error) {
	o := g.opts
	encoded := make([]encodedBatch, variants)
	now := time.Now().UnixNano()
	samples := make([]*lifelinev1.Sample, o.BatchSamples)
	k := 0
	for v := range encoded {
		for j := range samples {
			samples[j] = &lifelinev1.Sample{PointId: pointID(k % o.PointsPerAgent), SourceTimeNs: now, ServerTimeNs: now,
				ReceiveTimeNs: now, Value: &lifelinev1.Sample_Number{Number: float64(k%1000) / 10}}
			k++
		}
		b, err := encodeSamples(samples)
		if err != nil {
			return nil, err
		}
		stamps, err := stampOffsets(b)
		if err != nil {
			return nil, err
		}
		encoded[v] = encodedBatch{samples: b, stamps: stamps}
	}
	return encoded, nil
}

// inFlight bounds an agent's unacked batches and remembers when each was
// sent, for the ack latency. Like the agent's live window it also bounds
// the unacked samples to the aggregator's grant (Welcome and Ack
// window_samples, 0: none), always letting one batch out.
type inFlight struct {
	slots   chan struct{}
	mu      sync.Mutex
	sentAt  map[uint64]time.Time
	grant   int
	used    int
	changed chan struct{} // closed and replaced when used shrinks or grant changes
	// ignoreGrant keeps grant at 0, as an older agent would.
	ignoreGrant bool
}

// take reserves n samples of the grant, waiting until they fit.
func (fl *inFlight) take(ctx context.Context, n int) bool {
	for {
		fl.mu.Lock()
		if fl.grant <= 0 || fl.used == 0 || fl.used+n <= fl.grant {
			fl.used += n
			fl.mu.Unlock()
			return true
		}
		changed := fl.changed
		fl.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

// ackedLocked returns n samples and takes the ack's grant (0 keeps the current).
func (fl *inFlight) ackedLocked(n, grant int) {
	fl.used = max(fl.used-n, 0)
	if grant > 0 && !fl.ignoreGrant {
		fl.grant = grant
	}
	close(fl.changed)
	fl.changed = make(chan struct{})
}

// receiveAcks frees a slot per ack and, while measuring, counts the acked
// samples and the ack's latency. It returns the stream's receive error.
func (g *loadGen) receiveAcks(stream grpc.ClientStream, fl *inFlight) error {
	for {
		var m lifelinev1.AggregatorMessage
		if err := stream.RecvMsg(&m); err != nil {
			return err
		}
		ack := m.GetAck()
		if ack == nil {
			continue
		}
		now := time.Now()
		fl.mu.Lock()
		at, ok := fl.sentAt[ack.GetSeq()]
		delete(fl.sentAt, ack.GetSeq())
		if ok {
			fl.ackedLocked(g.opts.BatchSamples, int(ack.GetWindowSamples()))
		}
		fl.mu.Unlock()
		if !ok {
			continue
		}
		<-fl.slots
		if g.measuring.Load() {
			g.acked.Add(uint64(g.opts.BatchSamples - len(ack.GetRejected())))
			g.mu.Lock()
			g.latencies = append(g.latencies, now.Sub(at))
			g.mu.Unlock()
		}
	}
}

// sendBatches sends batches as fast as the in-flight window allows, or at
// the agent's share of Options.Rate, until ctx ends or the stream fails.
func (g *loadGen) sendBatches(ctx context.Context, stream grpc.ClientStream, encoded []encodedBatch, fl *inFlight, recvDone <-chan error) error {
	o := g.opts
	var interval time.Duration
	if o.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(o.BatchSamples) * float64(o.Agents) / o.Rate)
	}
	start := time.Now()
	for seq := uint64(1); ; seq++ {
		if interval > 0 {
			if d := time.Until(start.Add(time.Duration(seq-1) * interval)); d > 0 {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(d):
				}
			}
		}
		select {
		case fl.slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		case err := <-recvDone:
			return fmt.Errorf("receive: %w", err)
		}
		if !fl.take(ctx, o.BatchSamples) {
			return nil
		}
		// A fresh buffer each time: gRPC may still hold the previous one
		// when SendMsg returns.
		eb := encoded[seq%variants]
		msg := encodeBatchMessage(make([]byte, 0, len(eb.samples)+32), seq, eb.samples)
		restamp(msg[len(msg)-len(eb.samples):], eb.stamps, o.PointsPerAgent, time.Now().UnixNano()) // the batch ends msg
		fl.mu.Lock()
		fl.sentAt[seq] = time.Now()
		fl.mu.Unlock()
		if err := stream.SendMsg(preEncoded(msg)); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("send batch %d: %w", seq, err)
		}
	}
}

func pointID(i int) string { return fmt.Sprintf("P%05d", i+1) }

// isReady counts one agent as welcomed (or given up).
func (g *loadGen) isReady() {
	if g.unready.Add(-1) == 0 {
		close(g.ready)
	}
}

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}
