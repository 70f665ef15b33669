package uplink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/connectivity"
)

// A link fails over when its session fails (an error, a refused
// handshake), and when the aggregator goes silent while it owes an answer:
// no welcome, or no ack while batches are in flight, for AckTimeout. A
// paused or wedged aggregator keeps its TCP connections open, and
// keepalive alone notices it only when the link is idle; the ack deadline
// notices it while data waits. Away from its preferred aggregator, the
// uplink probes that one every ProbeInterval and goes back after
// ProbeSuccesses answers in a row, so one lucky probe of a flapping server
// does not pull every site back and forth.

// errStalled ends a session whose aggregator stopped answering.
var errStalled = errors.New("aggregator stopped answering")

// errSwitchBack ends a session on a fallback aggregator so that the next
// one goes to the preferred aggregator, which answers again.
var errSwitchBack = errors.New("stream ended to return to the preferred aggregator")

// probeTimeout bounds one probe of the preferred aggregator.
const probeTimeout = 3 * time.Second

// DefaultProbeSuccesses is how many probes in a row the preferred
// aggregator must answer before the link returns to it.
const DefaultProbeSuccesses = 3

// stallWatch notices a session whose aggregator owes an answer and has
// not given one within the deadline. Progress is marked when the session
// starts, at the welcome, at every ack, and when a batch is sent with
// nothing else in flight.
type stallWatch struct {
	last     atomic.Int64 // Unix ns of the last progress
	welcomed atomic.Bool
	stalled  atomic.Bool
}

func (s *stallWatch) progress() { s.last.Store(time.Now().UnixNano()) }

// watch cancels the session once it stalls, until ctx ends. The caller
// waits for it through wg.
func (s *stallWatch) watch(ctx context.Context, wg *sync.WaitGroup, deadline time.Duration, inFlight func() int64, cancel context.CancelFunc) {
	s.progress()
	if deadline <= 0 {
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(min(deadline/4, time.Second))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			owed := !s.welcomed.Load() || inFlight() > 0
			if owed && time.Since(time.Unix(0, s.last.Load())) > deadline {
				s.stalled.Store(true)
				cancel()
				return
			}
		}
	}()
}

// probePreferred runs while a session is on a fallback aggregator: it
// probes the preferred one every ProbeInterval and, after ProbeSuccesses
// answers in a row, stops the session gently (see openStream) so that the
// next one goes back. The caller waits for it through wg.
func (u *Uplink) probePreferred(ctx context.Context, wg *sync.WaitGroup, preferred endpoint, open *openStream) {
	if u.opts.ProbeInterval <= 0 {
		return
	}
	need := u.back.probes()
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(u.opts.ProbeInterval)
		defer t.Stop()
		ok := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if u.probe(ctx, preferred) {
				ok++
			} else {
				ok = 0
			}
			if ok >= need {
				u.logger.Info("preferred aggregator answers again; returning to it", "preferred", preferred.String(), "probes", ok)
				open.switchBack.Store(true)
				open.stopNow()
				return
			}
		}
	}()
}

// probe reports whether ep completes a connection (TLS and HTTP/2
// handshakes included) within probeTimeout. A paused process accepts TCP
// but never completes the handshakes, so it does not pass.
func (u *Uplink) probe(ctx context.Context, ep endpoint) bool {
	conn, err := u.dial(ep)
	if err != nil {
		return false
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	conn.Connect()
	for {
		s := conn.GetState()
		switch s {
		case connectivity.Ready:
			return true
		case connectivity.TransientFailure, connectivity.Shutdown:
			return false
		}
		if !conn.WaitForStateChange(ctx, s) {
			return false
		}
	}
}

// flapWindow: a return to the preferred aggregator whose session ends
// sooner than this did not hold (it answers probes but fails streams, say
// its database is unreachable), and the next return needs twice the
// probes, up to maxProbes; a session that lasts resets the count.
const (
	flapWindow = 30 * time.Second
	maxProbes  = 64
)

// returns holds how many probes in a row a return to the preferred
// aggregator needs. Run owns it; probe goroutines read the count.
type returns struct {
	base    int
	need    atomic.Int64
	pending bool // a return was made and its session has not ended yet
}

func (r *returns) reset(base int) {
	if base <= 0 {
		base = DefaultProbeSuccesses
	}
	r.base = base
	r.need.Store(int64(base))
}

func (r *returns) probes() int { return int(r.need.Load()) }

func (r *returns) switched() { r.pending = true }

// ended accounts for a session that ended after lasting lasted.
func (r *returns) ended(onPreferred bool, lasted time.Duration, log *slog.Logger) {
	if !onPreferred {
		return
	}
	switch {
	case lasted >= flapWindow:
		r.need.Store(int64(r.base))
	case r.pending:
		n := min(2*r.need.Load(), maxProbes)
		r.need.Store(n)
		log.Warn("the preferred aggregator failed soon after the link returned to it; the next return needs more probes", "lasted", lasted.Round(time.Millisecond), "probes", n)
	}
	r.pending = false
}

// current records which aggregator the link is on, for Stats.
type current struct {
	mu        sync.Mutex
	endpoint  endpoint
	preferred endpoint
	last      string // the endpoint of the last link up
	failovers uint64
}

// up records a link established on ep, counting a change of aggregator.
func (c *current) up(ep, preferred endpoint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last != "" && c.last != ep.Dial {
		c.failovers++
	}
	c.endpoint, c.preferred, c.last = ep, preferred, ep.Dial
}

func (c *current) snapshot() (cur, preferred string, failovers uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.endpoint.Dial != "" {
		cur = c.endpoint.String()
	}
	if c.preferred.Dial != "" {
		preferred = c.preferred.String()
	}
	return cur, preferred, c.failovers
}

// stalledErr wraps err (the session's error) when the watch ended it.
func stalledErr(w *stallWatch, deadline time.Duration, err error) error {
	if !w.stalled.Load() {
		return err
	}
	if !w.welcomed.Load() {
		return fmt.Errorf("%w: no welcome within %s", errStalled, deadline)
	}
	return fmt.Errorf("%w: no ack within %s with batches in flight", errStalled, deadline)
}
