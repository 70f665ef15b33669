// Package uplink streams buffered batches to the aggregator over gRPC and
// deletes each from the buffer only once the aggregator acks its commit.
package uplink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/lifeline-telemetry/lifeline/agent/buffer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
	_ "github.com/lifeline-telemetry/lifeline/proto/zstd" // the stream's compressor
)

// Queue is the durable buffer the uplink drains.
type Queue interface {
	Read(from uint64, max int) ([]buffer.Entry, error)
	Delete(seqs ...uint64) error
	Stats() buffer.Stats
	Notify() <-chan struct{}
	Identity
}

// Options configure the uplink.
type Options struct {
	// Addresses are the aggregators (host:port) the agent may use; a name
	// may resolve to several IPs, each a candidate. Address alone is the
	// single-aggregator form.
	Address      string
	Addresses    []string
	Resolver     Resolver // nil: the system resolver
	Credentials  credentials.TransportCredentials
	Hello        *lifelinev1.Hello // site, park, version and point catalog; buffer_id and sequence fields are filled per connection
	MaxInFlight  int
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// Keepalive pings an idle link; no answer within KeepaliveTimeout
	// marks it dead, which is how a half-open WAN link is noticed.
	Keepalive        time.Duration
	KeepaliveTimeout time.Duration
	// Status, if set, is sent to the aggregator every StatusInterval.
	Status         func() *lifelinev1.Status
	StatusInterval time.Duration
	// Compression names the gRPC compressor of the stream (zstd.Name);
	// empty or "none" sends it uncompressed.
	Compression string
	// AckTimeout: a session that owes an answer (the welcome, or an ack
	// while batches are in flight) and gets none for this long is ended
	// and the link fails over. Zero disables it.
	AckTimeout time.Duration
	// ProbeInterval: while away from its preferred aggregator the link
	// probes it this often and returns after ProbeSuccesses answers in a
	// row. Zero disables returning (until the fallback fails).
	ProbeInterval  time.Duration
	ProbeSuccesses int
}

// Stats describe the uplink's progress.
type Stats struct {
	Connected    bool
	AckedBatches uint64
	AckedSamples uint64
	Rejected     uint64
	Duplicates   uint64 // re-sent values the aggregator already held
	Reconnects   uint64 // links re-established after the first; failed attempts do not count
	// BehindLedger counts handshakes where the aggregator held newer
	// batches of this buffer than the buffer knew of (see reconcile).
	BehindLedger  uint64
	InFlight      int
	LastConnected time.Time
	// Draining is set while batches buffered before the connection are
	// still being sent beside live ones.
	Draining bool
	// Nacks counts batches the aggregator could not commit (kept and sent
	// again); SetAside, samples ClickHouse refused for good, kept by the
	// aggregator in rejected_batches. LastRefusal says why, most recently.
	Nacks       uint64
	SetAside    uint64
	LastRefusal string
	// Aggregator is the endpoint of the current (or last) link, Preferred
	// the one this site's rendezvous hash ranks first; Failovers counts
	// links established on another aggregator than the link before.
	Aggregator string
	Preferred  string
	Failovers  uint64
}

// Uplink owns the connection to the aggregator.
type Uplink struct {
	q      Queue
	opts   Options
	logger *slog.Logger

	connected    atomic.Bool
	ackedBatches atomic.Uint64
	ackedSamples atomic.Uint64
	rejected     atomic.Uint64
	duplicates   atomic.Uint64
	reconnects   atomic.Uint64
	behindLedger atomic.Uint64
	inFlight     atomic.Int64
	lastUp       atomic.Int64
	draining     atomic.Bool
	nacks        atomic.Uint64
	setAside     atomic.Uint64
	lastRefusal  atomic.Pointer[string]
	at           current
	back         returns

	// helloMu guards the hello streams open with and the record of the
	// stream now open (see catalog.go).
	helloMu sync.Mutex
	hello   *lifelinev1.Hello
	stream  *openStream
}

// New returns an uplink draining q.
func New(q Queue, opts Options, logger *slog.Logger) *Uplink {
	return &Uplink{q: q, opts: opts, logger: logger, hello: opts.Hello}
}

// Stats returns a snapshot of the uplink's counters.
func (u *Uplink) Stats() Stats {
	s := Stats{
		Connected:    u.connected.Load(),
		AckedBatches: u.ackedBatches.Load(),
		AckedSamples: u.ackedSamples.Load(),
		Rejected:     u.rejected.Load(),
		Duplicates:   u.duplicates.Load(),
		Reconnects:   u.reconnects.Load(),
		BehindLedger: u.behindLedger.Load(),
		InFlight:     int(u.inFlight.Load()),
		Draining:     u.draining.Load(),
		Nacks:        u.nacks.Load(),
		SetAside:     u.setAside.Load(),
	}
	if r := u.lastRefusal.Load(); r != nil {
		s.LastRefusal = *r
	}
	if t := u.lastUp.Load(); t != 0 {
		s.LastConnected = time.Unix(0, t)
	}
	s.Aggregator, s.Preferred, s.Failovers = u.at.snapshot()
	return s
}

func (u *Uplink) callOptions() []grpc.CallOption {
	opts := []grpc.CallOption{grpc.MaxCallRecvMsgSize(16 << 20), grpc.ForceCodecV2(newCodec())}
	if c := u.opts.Compression; c != "" && c != "none" {
		opts = append(opts, grpc.UseCompressor(c))
	}
	return opts
}

// session runs one stream: hello, welcome, then batches out and acks in.
// A stream Recatalog stops ends with errRecatalog.
func (u *Uplink) session(parent context.Context, client lifelinev1.IngestClient, ep, preferred endpoint) (err error) {
	ctx, cancel := context.WithCancel(parent)
	var helpers sync.WaitGroup
	defer helpers.Wait()
	defer cancel()
	hello, open := u.openStreamRecord()
	defer u.closeStreamRecord(open)
	watch := &stallWatch{}
	defer func() {
		switch {
		case open.stopped() && parent.Err() == nil && open.switchBack.Load():
			err = errSwitchBack
		case open.stopped() && parent.Err() == nil:
			err = errRecatalog
		default:
			err = stalledErr(watch, u.opts.AckTimeout, err)
		}
	}()
	watch.watch(ctx, &helpers, u.opts.AckTimeout, u.inFlight.Load, cancel)
	endHandshake := open.cancelUntilHandshake(cancel)
	defer endHandshake()
	stream, err := client.Stream(ctx, grpc.WaitForReady(false))
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	st := u.q.Stats()
	// newest_seq is the newest number ever handed out, stored or not, so
	// that the aggregator can tell a buffer that is behind its ledger.
	hello.OldestSeq, hello.NewestSeq, hello.BufferId = st.Oldest, u.q.Last(), u.q.ID()
	if err := stream.Send(&lifelinev1.AgentMessage{Body: &lifelinev1.AgentMessage_Hello{Hello: hello}}); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	first, err := stream.Recv()
	if err != nil {
		if status.Code(err) == codes.AlreadyExists {
			u.logger.Error("AGGREGATOR REFUSED THIS AGENT: another agent is live for the same site; check that no two agents share a site identity",
				"site", hello.GetSiteId(), "buffer_id", hello.GetBufferId(), "err", err)
		}
		return fmt.Errorf("await welcome: %w", err)
	}
	welcome := first.GetWelcome()
	if welcome == nil {
		return errors.New("aggregator did not answer hello with welcome")
	}
	watch.welcomed.Store(true)
	watch.progress()
	committed, reidentify, err := u.reconcile(welcome, hello)
	if err != nil {
		return err
	}
	if err := u.dropCommitted(committed, st); err != nil {
		return err
	}
	if reidentify {
		return u.reidentify(hello.GetBufferId())
	}
	u.connected.Store(true)
	if u.lastUp.Swap(time.Now().UnixNano()) != 0 {
		u.reconnects.Add(1)
	}
	u.at.up(ep, preferred)
	u.logger.Info("aggregator link up", "addr", ep.String(), "preferred", ep.Dial == preferred.Dial,
		"backlog_batches", st.Entries, "backlog_bytes", st.Bytes)
	if ep.Dial != preferred.Dial {
		u.probePreferred(ctx, &helpers, preferred, open)
	}
	endHandshake() // from here a new catalog waits for the in-flight acks
	return u.flow(ctx, cancel, stream, open, watch, st.Newest, welcome)
}

// flow runs a welcomed stream: batches out (the backlog up to backlogEnd
// and live ones), acks in, acked batches deleted, until one of them fails
// or a new catalog stops it (see Recatalog).
func (u *Uplink) flow(ctx context.Context, cancel context.CancelFunc, stream lifelinev1.Ingest_StreamClient, open *openStream, watch *stallWatch, backlogEnd uint64, welcome *lifelinev1.Welcome) (err error) {
	maxSamples := int(welcome.GetMaxBatchSamples())
	grant := int(welcome.GetWindowSamples())
	w := &window{
		watch:         watch,
		backlog:       make(chan struct{}, u.opts.MaxInFlight),
		live:          make(chan struct{}, u.opts.MaxInFlight),
		liveCredit:    newCredit(grant),
		backlogCredit: newCredit(grant),
		freed:         make(chan struct{}, 1),
		sent:          make(map[uint64]sent),
	}
	acks := &ackBatch{ready: make(chan struct{}, 1)}
	errs := make(chan error, 3)
	var wg sync.WaitGroup
	wg.Add(3)
	sendCtx, stopSend := context.WithCancel(ctx)
	defer stopSend()
	go func() {
		defer wg.Done()
		errs <- u.send(sendCtx, stream, w, backlogEnd, maxSamples)
	}()
	go func() {
		defer wg.Done()
		errs <- u.receiveAcks(stream, acks)
	}()
	go func() {
		defer wg.Done()
		errs <- u.deleteAcked(ctx, acks, w)
	}()
	select {
	case err = <-errs:
	case <-open.stop:
		stopSend()
		err = u.drainForCatalog(errs)
	}
	cancel()
	wg.Wait()
	u.inFlight.Store(0)
	u.draining.Store(false)
	return err
}

// dropCommitted deletes batches the aggregator already has: their ack was
// lost, but their rows are in ClickHouse.
func (u *Uplink) dropCommitted(ranges []*lifelinev1.SeqRange, st buffer.Stats) error {
	var seqs []uint64
	for _, r := range ranges {
		first, last := max(r.GetFirst(), st.Oldest), min(r.GetLast(), st.Newest)
		for s := first; s <= last && s != 0; s++ {
			seqs = append(seqs, s)
		}
	}
	if len(seqs) == 0 {
		return nil
	}
	if err := u.q.Delete(seqs...); err != nil {
		return fmt.Errorf("delete committed batches: %w", err)
	}
	u.logger.Info("dropped batches the aggregator had already committed", "batches", len(seqs))
	return nil
}

// window bounds the batches awaiting an ack, live and backlog apart, each
// to MaxInFlight and to the samples the aggregator grants: live data never
// queues behind a drain, and a live stream of many batches a second is not
// throttled to a few per round trip of the aggregator's commit.
type window struct {
	backlog       chan struct{}
	live          chan struct{}
	liveCredit    *credit
	backlogCredit *credit
	freed         chan struct{} // signalled when a backlog slot or credit frees up
	watch         *stallWatch
	mu            sync.Mutex
	sent          map[uint64]sent
}

type sent struct {
	samples int
	live    bool
}

// readAhead bounds how many entries are read from the buffer at once.
const readAhead = 16

// send streams the buffer. Batches written before this connection (up to
// backlogEnd) are the backlog, sent oldest first; newer ones are live and
// always go first, so after an outage the dashboards show the present
// within seconds while the past fills in beside it.
func (u *Uplink) send(ctx context.Context, stream lifelinev1.Ingest_StreamClient, w *window, backlogEnd uint64, maxSamples int) error {
	liveCursor, backlogCursor := backlogEnd+1, uint64(0)
	drain := drainProgress{started: time.Now()}
	u.draining.Store(backlogEnd > 0)
	var status <-chan time.Time
	if u.opts.Status != nil && u.opts.StatusInterval > 0 {
		t := time.NewTicker(u.opts.StatusInterval)
		defer t.Stop()
		status = t.C
		if err := u.sendStatus(stream); err != nil {
			return err
		}
	}
	for {
		select {
		case <-status:
			if err := u.sendStatus(stream); err != nil {
				return err
			}
		default:
		}
		// Take the notification channel before reading, so an append
		// between an empty read and the wait is not missed.
		notify := u.q.Notify()
		live, err := u.q.Read(liveCursor, readAhead)
		if err != nil {
			return fmt.Errorf("read buffer: %w", err)
		}
		if len(live) > 0 {
			next, err := u.sendEntries(ctx, stream, w, live, true, maxSamples)
			liveCursor = max(liveCursor, next)
			if err != nil {
				return err
			}
			continue
		}
		if backlogCursor <= backlogEnd && (len(w.backlog) == cap(w.backlog) || w.backlogCredit.full()) {
			// The backlog's window is full: wait for an ack, or for new
			// data, which is live and must not wait behind the backlog.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-w.freed:
			case <-notify:
			case <-status:
				if err := u.sendStatus(stream); err != nil {
					return err
				}
			}
			continue
		}
		if backlogCursor <= backlogEnd {
			entries, err := u.q.Read(backlogCursor, readAhead)
			if err != nil {
				return fmt.Errorf("read buffer: %w", err)
			}
			entries = slices.DeleteFunc(entries, func(e buffer.Entry) bool { return e.Seq > backlogEnd })
			if len(entries) == 0 {
				backlogCursor = backlogEnd + 1
				u.draining.Store(false)
				drain.done(u.logger)
				continue
			}
			next, err := u.sendEntries(ctx, stream, w, entries, false, maxSamples)
			for _, e := range entries {
				if e.Seq < next {
					drain.batches++
				}
			}
			backlogCursor = max(backlogCursor, next)
			if err != nil {
				return err
			}
			if backlogCursor > backlogEnd {
				// The last backlog batch is out: what follows is live.
				u.draining.Store(false)
				drain.done(u.logger)
			}
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-notify:
		case <-status:
			if err := u.sendStatus(stream); err != nil {
				return err
			}
		}
	}
}

// sendEntries sends entries in order and returns the sequence number to
// read from next. Live entries wait for a slot of their window; backlog
// entries are sent only while their window has room, so the caller can
// turn to live data in between.
func (u *Uplink) sendEntries(ctx context.Context, stream lifelinev1.Ingest_StreamClient, w *window, entries []buffer.Entry, live bool, maxSamples int) (uint64, error) {
	slots := w.backlog
	if live {
		slots = w.live
	}
	var next uint64
	for _, e := range entries {
		next = e.Seq + 1
		samples, err := countSamples(e.Data)
		if err != nil {
			// A damaged entry can never be sent; keeping it would stall the
			// link forever. It is removed loudly and counted.
			u.logger.Error("discarding unreadable buffer entry", "seq", e.Seq, "bytes", len(e.Data), "err", err)
			if err := u.q.Delete(e.Seq); err != nil {
				return next, fmt.Errorf("delete unreadable entry %d: %w", e.Seq, err)
			}
			continue
		}
		if maxSamples > 0 && samples > maxSamples {
			return next, fmt.Errorf("batch %d has %d samples, the aggregator accepts %d", e.Seq, samples, maxSamples)
		}
		if live {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return e.Seq, ctx.Err()
			}
			// The slot is freed by the ack, with the credit.
			if err := w.liveCredit.take(ctx, samples); err != nil {
				return e.Seq, err
			}
		} else {
			select {
			case slots <- struct{}{}:
			default:
				return e.Seq, nil // the window is full; this entry goes next time
			}
			if !w.backlogCredit.tryTake(samples) {
				<-slots
				return e.Seq, nil // no credit left; this entry goes next time
			}
		}
		w.mu.Lock()
		w.sent[e.Seq] = sent{samples: samples, live: live}
		w.mu.Unlock()
		if u.inFlight.Add(1) == 1 {
			w.watch.progress() // the ack deadline runs from the first batch in flight
		}
		// The stored bytes go as they are, seq and backfill beside them
		// (see encodedBatch): no decoding and re-encoding per batch.
		if err := stream.SendMsg(newEncodedBatch(e.Data, e.Seq, !live)); err != nil {
			return next, fmt.Errorf("send batch %d: %w", e.Seq, err)
		}
	}
	return next, nil
}

func (u *Uplink) sendStatus(stream lifelinev1.Ingest_StreamClient) error {
	st := u.opts.Status()
	if err := stream.Send(&lifelinev1.AgentMessage{Body: &lifelinev1.AgentMessage_Status{Status: st}}); err != nil {
		return fmt.Errorf("send status: %w", err)
	}
	return nil
}

// drainProgress reports the end of a backlog drain once.
type drainProgress struct {
	started  time.Time
	batches  int
	reported bool
}

func (d *drainProgress) done(log *slog.Logger) {
	if d.reported || d.batches == 0 {
		d.reported = true
		return
	}
	d.reported = true
	log.Info("backlog sent", "batches", d.batches, "took", time.Since(d.started).Round(time.Millisecond))
}
