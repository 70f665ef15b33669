package ingest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
)

// StreamLimits bound what one agent identity (certificate common name) or
// one remote address may take of the listener, so one agent, however
// misbehaving, cannot lock every other site out.
type StreamLimits struct {
	// HelloTimeout ends a stream that has not sent its hello by then.
	HelloTimeout time.Duration `yaml:"hello_timeout"`
	// StreamsPerIdentity bounds open streams per certificate.
	StreamsPerIdentity int `yaml:"streams_per_identity"`
	// StreamsPerAddress bounds open streams per remote IP address.
	StreamsPerAddress int `yaml:"streams_per_address"`
	// HandshakesPerMinute bounds new streams per identity (not applied
	// without TLS); a burst of a sixth of it is allowed.
	HandshakesPerMinute int `yaml:"handshakes_per_minute"`
}

// DefaultStreamLimits returns the limits used when none are configured.
func DefaultStreamLimits() StreamLimits {
	return StreamLimits{HelloTimeout: 10 * time.Second, StreamsPerIdentity: 4, StreamsPerAddress: 256, HandshakesPerMinute: 60}
}

// Validate checks the limits.
func (l StreamLimits) Validate() error {
	var errs []error
	if l.HelloTimeout < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("server.limits.hello_timeout %s: want >= 100ms", l.HelloTimeout))
	}
	if l.StreamsPerIdentity < 1 || l.StreamsPerAddress < 1 || l.HandshakesPerMinute < 1 {
		errs = append(errs, errors.New("server.limits: streams_per_identity, streams_per_address and handshakes_per_minute must be > 0"))
	}
	return errors.Join(errs...)
}

// Causes of a refused stream, as logged and as the cause label of
// lifeline_ingest_stream_refusals_total.
const (
	causeIdentityStreams = "identity_streams"
	causeAddressStreams  = "address_streams"
	causeHandshakeRate   = "handshake_rate"
	causeHelloTimeout    = "hello_timeout"
	causeUnauthenticated = "unauthenticated"
)

// streamLimiter holds the counts and buckets behind StreamLimits.
type streamLimiter struct {
	limits StreamLimits
	svc    *Service
	now    func() time.Time

	mu         sync.Mutex
	byIdentity map[string]int
	byAddress  map[string]int
	buckets    map[string]*bucket
}

func newStreamLimiter(l StreamLimits, svc *Service) *streamLimiter {
	return &streamLimiter{limits: l, svc: svc, now: time.Now,
		byIdentity: map[string]int{}, byAddress: map[string]int{}, buckets: map[string]*bucket{}}
}

// Limit implements the go-grpc-middleware ratelimit.Limiter: a new stream
// spends one of its identity's handshake tokens.
func (l *streamLimiter) Limit(ctx context.Context) error {
	who := identityOf(ctx)
	if who == "" {
		// Plain text has no identity to hold to a rate: keyed by address
		// it would throttle every agent of a bench or a NAT together.
		return nil
	}
	l.mu.Lock()
	b, ok := l.buckets[who]
	if !ok {
		b = &bucket{}
		l.buckets[who] = b
	}
	allowed := b.take(l.now(), l.limits.HandshakesPerMinute)
	l.mu.Unlock()
	if allowed {
		return nil
	}
	l.svc.refuse(causeHandshakeRate, who)
	return fmt.Errorf("%s opens more than %d streams a minute; retry in %s", who, l.limits.HandshakesPerMinute, time.Minute/time.Duration(l.limits.HandshakesPerMinute))
}

// stream is the interceptor bounding open streams per identity and per
// address; a stream over either bound is refused with ResourceExhausted and
// a RetryInfo, and no other site is affected.
func (l *streamLimiter) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	id, addr := identityOf(ss.Context()), remoteHost(ss.Context())
	l.mu.Lock()
	switch {
	case id != "" && l.byIdentity[id] >= l.limits.StreamsPerIdentity:
		l.mu.Unlock()
		l.svc.refuse(causeIdentityStreams, id)
		return retryLater(codes.ResourceExhausted, 30*time.Second, "certificate %s holds %d streams already; retry later", id, l.limits.StreamsPerIdentity)
	case l.byAddress[addr] >= l.limits.StreamsPerAddress:
		l.mu.Unlock()
		l.svc.refuse(causeAddressStreams, addr)
		return retryLater(codes.ResourceExhausted, 30*time.Second, "address %s holds %d streams already; retry later", addr, l.limits.StreamsPerAddress)
	}
	if id != "" {
		l.byIdentity[id]++
	}
	l.byAddress[addr]++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if id != "" {
			if l.byIdentity[id]--; l.byIdentity[id] <= 0 {
				delete(l.byIdentity, id)
			}
		}
		if l.byAddress[addr]--; l.byAddress[addr] <= 0 {
			delete(l.byAddress, addr)
		}
	}()
	return handler(srv, ss)
}

// bucket is a token bucket refilled at perMinute tokens a minute.
type bucket struct {
	tokens float64
	at     time.Time
}

func (b *bucket) take(now time.Time, perMinute int) bool {
	burst := float64(max(perMinute/6, 1))
	if b.at.IsZero() {
		b.tokens = burst
	} else {
		b.tokens = min(burst, b.tokens+now.Sub(b.at).Minutes()*float64(perMinute))
	}
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func remoteHost(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return "unknown"
	}
	host, _, err := net.SplitHostPort(p.Addr.String())
	if err != nil {
		return p.Addr.String()
	}
	return host
}

// refusalLog remembers when each cause and peer was last warned about.
type refusalLog struct {
	mu     sync.Mutex
	warned map[string]time.Time
}

// refuse counts a refused stream and warns about it at most once a minute
// per cause and peer, so an agent in a loop cannot flood the log either.
func (s *Service) refuse(cause, who string) {
	s.metrics.refusals.WithLabelValues(cause).Inc()
	key, now := cause+"/"+who, s.now()
	l := &s.refusalLog
	l.mu.Lock()
	if l.warned == nil || len(l.warned) > 10000 {
		l.warned = map[string]time.Time{}
	}
	last, seen := l.warned[key]
	warn := !seen || now.Sub(last) >= time.Minute
	if warn {
		l.warned[key] = now
	}
	l.mu.Unlock()
	if warn {
		s.logger.Warn("agent stream refused", "cause", cause, "peer", who)
	}
}
