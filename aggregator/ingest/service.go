// Package ingest receives agents' sample streams over gRPC: it checks who is
// speaking, validates every sample, hands batches to the store, and acks each
// batch only after the store has committed it.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lifeline-telemetry/lifeline/aggregator/groupcommit"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
	_ "github.com/lifeline-telemetry/lifeline/proto/zstd" // agents compress their streams with it
)

// Ledger knows what each agent buffer has committed and keeps its point
// catalog.
type Ledger interface {
	// Committed returns the committed batches of span.
	Committed(ctx context.Context, span store.Span) ([]*lifelinev1.SeqRange, error)
	// NewestCommitted returns the newest committed batch of a buffer at or
	// after from (0 if none).
	NewestCommitted(ctx context.Context, siteID, bufferID string, from uint64) (uint64, error)
	SaveCatalog(ctx context.Context, siteID, park, agentVersion string, points []*lifelinev1.Point) error
	// Existing reports which samples are already stored.
	Existing(ctx context.Context, siteID string, keys []store.SampleKey) (map[store.SampleKey]struct{}, error)
}

// Writer commits batches; done is called once the batch is committed or
// has definitively failed.
type Writer interface {
	Submit(ctx context.Context, b *store.Batch, done func(error)) error
}

// Options tune the ingest service.
type Options struct {
	// MaxBatchSamples is the largest batch accepted; the agent is told in
	// Welcome and a larger batch ends the stream with InvalidArgument.
	MaxBatchSamples int
	// RequirePeerIdentity makes every stream prove its site with a client
	// certificate whose common name is the site ID.
	RequirePeerIdentity bool
	// MaxHandshakes bounds streams doing their hello at once (each costs
	// ClickHouse queries), so a reconnect storm after a network outage
	// queues instead of swamping the database.
	MaxHandshakes int
	// MaxStreams bounds agent streams open at once; more are refused with
	// ResourceExhausted and the agents retry with backoff.
	MaxStreams int
	// LiveWindow: a site's stream that received a message this recently
	// is live, and a second agent's stream for the site is refused.
	LiveWindow time.Duration
	// HelloTimeout ends a stream that has not sent its hello by then, so
	// silent streams cannot hold the listener's slots.
	HelloTimeout time.Duration
	// RequireRegistered refuses sites the registry's enterprises do not
	// list; without it an unlisted site keeps the park it first announced.
	RequireRegistered bool
	// Owners, if set, takes each site over at its agent's handshake, so
	// that the aggregator the site's stream reaches evaluates its alarms.
	Owners SiteClaimer
	// WindowSamples is the budget of unacked samples the streams share as
	// their admission window (see windowShares); 0 grants none.
	WindowSamples int
}

// SiteClaimer takes a site over for this aggregator (see aggregator/owner).
type SiteClaimer interface {
	Claim(ctx context.Context, site string) (uint64, error)
}

// DefaultOptions returns the options used when none are configured.
func DefaultOptions() Options {
	return Options{MaxBatchSamples: 50000, RequirePeerIdentity: true, MaxHandshakes: 16,
		MaxStreams: int(DefaultServerConfig().MaxStreams), LiveWindow: DefaultLiveWindow,
		HelloTimeout: DefaultStreamLimits().HelloTimeout}
}

// Service implements lifelinev1.IngestServer.
type Service struct {
	lifelinev1.UnimplementedIngestServer

	ledger     Ledger
	writer     Writer
	heartbeats *Heartbeats
	handshakes chan struct{}
	// catalogs groups catalog saves, when the ledger can save several.
	catalogs *groupcommit.Group[store.Catalog, struct{}]
	opts     Options
	logger   *slog.Logger
	metrics  *Metrics
	rules    sampleRules
	now      func() time.Time

	sessions   sessions
	refusalLog refusalLog
	open       atomic.Int64
	windows    windowShares
	// receivers are the goroutines blocked in stream.Recv; a handler that
	// ends early cannot wait for its own, so the Service owns them.
	receivers sync.WaitGroup
}

// NewService returns an ingest service writing through writer and
// recording agents' heartbeats in heartbeats (which may be nil).
func NewService(ledger Ledger, writer Writer, heartbeats *Heartbeats, opts Options, metrics *Metrics, logger *slog.Logger) *Service {
	live := opts.LiveWindow
	if live <= 0 {
		live = DefaultLiveWindow
	}
	svc := &Service{
		sessions:   sessions{liveWindow: live, now: time.Now},
		ledger:     ledger,
		writer:     writer,
		heartbeats: heartbeats,
		handshakes: make(chan struct{}, max(opts.MaxHandshakes, 1)),
		opts:       opts,
		logger:     logger,
		metrics:    metrics,
		rules:      defaultRules,
		now:        time.Now,
	}
	svc.windows = windowShares{budget: int64(max(opts.WindowSamples, 0)), open: svc.open.Load}
	if book, ok := ledger.(catalogBook); ok {
		svc.catalogs = newCatalogGroup(book)
	}
	if metrics != nil {
		metrics.sites.src.Store(&svc.sessions)
	}
	return svc
}

// Wait blocks until every receive goroutine has ended; the gRPC server must
// have stopped first.
func (s *Service) Wait() { s.receivers.Wait() }

// ConnectedSites returns how many sites have a live stream.
func (s *Service) ConnectedSites() int { return s.sessions.count() }

// Stream serves one agent connection: admit it, read its hello, claim its
// site, welcome it, then relay acks until the stream ends.
func (s *Service) Stream(stream lifelinev1.Ingest_StreamServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	if n := s.open.Add(1); s.opts.MaxStreams > 0 && n > int64(s.opts.MaxStreams) {
		s.open.Add(-1)
		return retryLater(codes.ResourceExhausted, 5*time.Second, "aggregator serves %d agent streams already; retry later", s.opts.MaxStreams)
	}
	defer s.open.Add(-1)

	hello, err := s.readHello(ctx, stream)
	if err != nil {
		return err
	}
	if err := s.admitPark(ctx, hello); err != nil {
		return err
	}
	site := hello.GetSiteId()
	log := s.logger.With("site", site)

	pending := &sync.WaitGroup{}
	pending.Add(1) // the receive loop; released if it never starts
	started := false
	defer func() {
		if !started {
			pending.Done()
		}
	}()
	sess, release, err := s.claimSite(ctx, log, hello, cancel, pending)
	if err != nil {
		return err
	}
	defer release()
	if err := s.claimOwnership(ctx, log, site); err != nil {
		return err
	}
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()

	if err := s.welcome(ctx, stream, log, hello); err != nil {
		return err
	}
	s.recordConnection(site, hello.GetAgentVersion(), true)
	defer s.recordConnection(site, hello.GetAgentVersion(), false)

	in := s.newIntake(hello, pending)
	defer in.share.close()
	lane := newBackfillLane(func(l *backfillLane) {
		go s.guard(l.fail, func() { l.run(ctx, in.accept) })
	})
	recvDone := make(chan error, 1)
	s.receivers.Add(1)
	started = true
	go func() {
		defer s.receivers.Done()
		defer pending.Done()
		defer lane.close()
		s.guard(func(err error) { recvDone <- err }, func() { recvDone <- s.receive(ctx, stream, hello, in, lane, sess) })
	}()
	return s.serve(ctx, stream, log, recvDone, lane, in.acks)
}

// readHello reads the stream's first message, which must be a valid hello
// from a peer allowed to speak for its site.
func (s *Service) readHello(ctx context.Context, stream lifelinev1.Ingest_StreamServer) (*lifelinev1.Hello, error) {
	first, err := s.recvHello(ctx, stream)
	if err != nil {
		return nil, err
	}
	hello := first.GetHello()
	if hello == nil {
		return nil, status.Error(codes.InvalidArgument, "first message must be a hello")
	}
	if err := validateHello(hello); err != nil {
		return nil, s.refuseSent(hello.GetSiteId(), causeInvalidHello, status.Errorf(codes.InvalidArgument, "hello: %v", err))
	}
	site := hello.GetSiteId()
	if err := s.checkPeer(ctx, site); err != nil {
		s.logger.Warn("refused agent", "site", site, "err", err)
		return nil, err
	}
	return hello, nil
}

// claimSite makes this stream the site's only one. A reconnecting agent's
// previous stream is closed and its in-flight batches awaited first, so the
// welcome's committed list cannot miss a batch still being written. On
// success the caller owns release.
func (s *Service) claimSite(ctx context.Context, log *slog.Logger, hello *lifelinev1.Hello, cancel context.CancelFunc, pending *sync.WaitGroup) (*session, func(), error) {
	sess, release, err := s.sessions.claim(hello.GetSiteId(), hello.GetBufferId(), hello.GetNewestSeq(), cancel, pending)
	if err != nil {
		s.metrics.siteInUse.Inc()
		log.Error("SECOND AGENT FOR SITE REFUSED", "buffer_id", hello.GetBufferId(), "err", err)
		return nil, nil, status.Error(codes.AlreadyExists, err.Error())
	}
	if sess.prev != nil {
		log.Info("agent reconnected; closing its previous stream", "buffer_id", hello.GetBufferId())
		if err := s.sessions.wait(ctx, sess); err != nil {
			release()
			return nil, nil, retryLater(codes.Unavailable, time.Second, "previous stream's batches are still being committed; retry")
		}
	}
	return sess, release, nil
}

// claimOwnership takes the site over before the welcome, so batches of
// this stream are evaluated here.
func (s *Service) claimOwnership(ctx context.Context, log *slog.Logger, site string) error {
	if s.opts.Owners == nil {
		return nil
	}
	if _, err := s.opts.Owners.Claim(ctx, site); err != nil {
		log.Error("take the site over", "err", err)
		return retryLater(codes.Unavailable, time.Second, "cannot take the site over; retry")
	}
	return nil
}

// welcome answers the hello with what the store has already committed, so
// the agent resends only the rest.
func (s *Service) welcome(ctx context.Context, stream lifelinev1.Ingest_StreamServer, log *slog.Logger, hello *lifelinev1.Hello) error {
	welcome, err := s.handshake(ctx, hello.GetSiteId(), hello)
	if err != nil {
		log.Error("handshake", "err", err)
		return err
	}
	committed := welcome.GetCommitted()
	welcome.MaxBatchSamples = uint32(s.opts.MaxBatchSamples)
	welcome.WindowSamples = s.firstWindow()
	if err := stream.Send(&lifelinev1.AggregatorMessage{Body: &lifelinev1.AggregatorMessage_Welcome{Welcome: welcome}}); err != nil {
		return err
	}
	log.Info("agent connected", "version", hello.GetAgentVersion(), "points", len(hello.GetPoints()), "buffer_id", hello.GetBufferId(),
		"buffered_from", hello.GetOldestSeq(), "buffered_to", hello.GetNewestSeq(), "already_committed", len(committed),
		"newest_committed", welcome.GetNewestCommitted())
	return nil
}

// newIntake prepares the per-stream state the receive loop validates
// against: the points the hello declared and the queue of acks to send.
func (s *Service) newIntake(hello *lifelinev1.Hello, pending *sync.WaitGroup) *intake {
	known := make(catalog, len(hello.GetPoints()))
	for _, p := range hello.GetPoints() {
		known[p.GetId()] = p.GetId()
	}
	return &intake{svc: s, site: hello.GetSiteId(), bufferID: hello.GetBufferId(), known: known, acks: newAckQueue(), pending: pending,
		share: s.windows.join()}
}

// serve is the stream's send side: only this goroutine calls stream.Send
// after the welcome (gRPC forbids concurrent sends), so acks are queued by
// the commit callbacks and flushed here until the receive side ends.
func (s *Service) serve(ctx context.Context, stream lifelinev1.Ingest_StreamServer, log *slog.Logger, recvDone <-chan error, lane *backfillLane, acks *ackQueue) error {
	for {
		select {
		case err := <-recvDone:
			return s.endStream(log, err)
		case err := <-lane.failed:
			return s.endStream(log, err)
		case <-ctx.Done():
			if stream.Context().Err() != nil {
				log.Info("agent disconnected")
				return nil
			}
			return status.Error(codes.Aborted, "replaced by a newer stream of the same site")
		case <-acks.ready():
			for _, msg := range acks.take() {
				if err := stream.Send(msg); err != nil {
					return err
				}
			}
		}
	}
}

func (s *Service) endStream(log *slog.Logger, err error) error {
	if err == nil || errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled {
		log.Info("agent disconnected")
		return nil
	}
	log.Warn("agent stream ended", "err", err)
	return err
}

// receive reads batches until the stream ends. Live batches are handed
// to the writer at once; back-filled ones go through lane, so a backlog
// held up by the writer's pending bound never holds back live data read
// after it. Acks are queued only once the writer reports the commit.
func (s *Service) receive(ctx context.Context, stream lifelinev1.Ingest_StreamServer, hello *lifelinev1.Hello, in *intake, lane *backfillLane, sess *session) error {
	site := hello.GetSiteId()
	// Live batches and back-filled ones each arrive in ascending order; the
	// two interleave, since the agent sends live data first after an outage.
	var lastLive, lastBackfill uint64
	for {
		msg, err := stream.Recv()
		if err != nil {
			return err
		}
		sess.received(s.now(), msg.GetBatch().GetSeq())
		if st := msg.GetStatus(); st != nil {
			if err := validateStatus(st); err != nil {
				return s.refuseSent(site, causeInvalidStatus, status.Errorf(codes.InvalidArgument, "status: %v", err))
			}
			if s.heartbeats != nil {
				s.heartbeats.Record(store.AgentStatus{SiteID: site, AgentVersion: hello.GetAgentVersion(), Connected: true, Time: s.now(), Status: st})
			}
			continue
		}
		batch := msg.GetBatch()
		if batch == nil {
			return status.Error(codes.InvalidArgument, "expected a batch or status after hello")
		}
		if err := validateBatch(batch, s.opts.MaxBatchSamples, s.rules, s.now()); err != nil {
			return s.refuseSent(site, causeInvalidBatch, status.Errorf(codes.InvalidArgument, "batch %d: %v", batch.GetSeq(), err))
		}
		s.dropBadGaps(site, batch, s.now())
		s.dropBadLiveness(site, batch, s.now())
		s.dropBadConditionEvents(site, batch, s.now())
		last := &lastLive
		if batch.GetBackfill() {
			last = &lastBackfill
		}
		if batch.GetSeq() <= *last {
			return status.Errorf(codes.InvalidArgument, "batch sequence %d after %d: sequence numbers must grow", batch.GetSeq(), *last)
		}
		*last = batch.GetSeq()
		in.share.sent(len(batch.GetSamples()))
		if batch.GetBackfill() {
			err = lane.put(ctx, batch)
		} else {
			err = in.accept(ctx, batch)
		}
		if err != nil {
			return err
		}
	}
}

// handshake saves the agent's catalog and reads what is committed, with at
// most MaxHandshakes running at once. It reads only the agent buffer's
// span of the ledger: the batches it holds (oldest..newest) and, to tell a
// buffer older than what it once sent, whatever lies beyond its newest.
func (s *Service) handshake(ctx context.Context, site string, hello *lifelinev1.Hello) (*lifelinev1.Welcome, error) {
	if err := s.saveCatalog(ctx, site, hello); err != nil {
		return nil, status.Errorf(codes.Unavailable, "save catalog: %v", err)
	}
	select {
	case s.handshakes <- struct{}{}:
		defer func() { <-s.handshakes }()
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	w := &lifelinev1.Welcome{}
	if oldest := hello.GetOldestSeq(); oldest != 0 { // 0: nothing buffered
		span := store.Span{SiteID: site, BufferID: hello.GetBufferId(), From: oldest, To: hello.GetNewestSeq()}
		committed, err := s.ledger.Committed(ctx, span)
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "read committed batches: %v", err)
		}
		w.Committed = committed
		if n := len(committed); n > 0 {
			w.NewestCommitted = committed[n-1].GetLast()
		}
	}
	if id := hello.GetBufferId(); id != "" { // agents without an identity do not read it
		newest, err := s.ledger.NewestCommitted(ctx, site, id, max(hello.GetNewestSeq(), 1))
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "read newest committed batch: %v", err)
		}
		w.NewestCommitted = max(w.NewestCommitted, newest)
		if newest > hello.GetNewestSeq() {
			s.metrics.bufferBehind.Inc()
			s.logger.Error("AGENT BUFFER IS OLDER THAN WHAT IT SENT: a restored copy, or batches lost in a power cut",
				"site", site, "buffer_id", id, "agent_newest_seq", hello.GetNewestSeq(), "newest_committed", newest)
		}
	}
	return w, nil
}

// saveCatalog saves the hello's catalog, grouped with those of other
// handshakes when the ledger can (outside the handshake slots: waiting for
// a group is no work for ClickHouse).
func (s *Service) saveCatalog(ctx context.Context, site string, hello *lifelinev1.Hello) error {
	if s.catalogs != nil {
		_, err := s.catalogs.Do(ctx, store.Catalog{SiteID: site, Park: hello.GetPark(), AgentVersion: hello.GetAgentVersion(), Points: hello.GetPoints()})
		return err
	}
	return s.ledger.SaveCatalog(ctx, site, hello.GetPark(), hello.GetAgentVersion(), hello.GetPoints())
}

func (s *Service) recordConnection(site, version string, connected bool) {
	if s.heartbeats != nil {
		s.heartbeats.Record(store.AgentStatus{SiteID: site, AgentVersion: version, Connected: connected, Time: s.now()})
	}
}

// dropStored removes initial values (re-sent by an OPC UA server after a
// resubscribe) and values read back from a server's history that
// ClickHouse already holds. The agent sends history values strictly after
// the last it stored, but that mark reaches its disk a little after the
// values do: a kill in between would otherwise store them twice.
func (s *Service) dropStored(ctx context.Context, site string, samples []*lifelinev1.Sample) ([]*lifelinev1.Sample, int, error) {
	var keys []store.SampleKey
	for _, smp := range samples {
		if smp.GetInitial() || smp.GetHistory() {
			keys = append(keys, store.SampleKey{PointID: smp.GetPointId(), TsNs: smp.GetSourceTimeNs()})
		}
	}
	if len(keys) == 0 {
		return samples, 0, nil
	}
	stored, err := s.ledger.Existing(ctx, site, keys)
	if err != nil || len(stored) == 0 {
		return samples, 0, err
	}
	kept := samples[:0]
	for _, smp := range samples {
		if smp.GetInitial() || smp.GetHistory() {
			if _, ok := stored[store.SampleKey{PointID: smp.GetPointId(), TsNs: smp.GetSourceTimeNs()}]; ok {
				continue
			}
		}
		kept = append(kept, smp)
	}
	return kept, len(samples) - len(kept), nil
}

// settleGaps removes from gap records the dropped batches ClickHouse has
// after all: a batch sent just before a link failed may have committed
// while its ack was lost, and then been dropped from the full buffer.
func (s *Service) settleGaps(ctx context.Context, site, bufferID string, gaps []*lifelinev1.Gap) ([]*lifelinev1.Gap, error) {
	var from, to uint64
	for _, g := range gaps {
		for _, b := range g.GetBatches() {
			if from == 0 || b.GetSeq() < from {
				from = b.GetSeq()
			}
			to = max(to, b.GetSeq())
		}
	}
	if from == 0 {
		return gaps, nil
	}
	committed, err := s.ledger.Committed(ctx, store.Span{SiteID: site, BufferID: bufferID, From: from, To: to})
	if err != nil {
		return nil, fmt.Errorf("check dropped batches: %w", err)
	}
	isCommitted := func(seq uint64) bool {
		for _, r := range committed {
			if seq >= r.GetFirst() && seq <= r.GetLast() {
				return true
			}
		}
		return false
	}
	kept := gaps[:0]
	for _, g := range gaps {
		listed := len(g.GetBatches()) > 0
		batches := g.GetBatches()[:0]
		for _, b := range g.GetBatches() {
			if isCommitted(b.GetSeq()) {
				g.Samples -= min(g.Samples, b.GetSamples())
				continue
			}
			batches = append(batches, b)
		}
		g.Batches = batches
		// A gap that listed no batches (a damaged buffer) stands as sent.
		if !listed || g.GetSamples() > 0 {
			kept = append(kept, g)
		}
	}
	return kept, nil
}
