package uplink

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/keepalive"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// The reconnect loop: which aggregator to try, dialling it, and how long
// to wait after a failure.

// Run keeps a session with an aggregator until ctx is done. Each attempt
// resolves the addresses, ranks the candidates for this site and uses the
// best one that has not failed recently; after a failure it moves to the
// next at once, and backs off (jittered, exponential) only when every
// candidate failed recently.
func (u *Uplink) Run(ctx context.Context) error {
	fails := &failures{cooldown: max(u.opts.ReconnectMax, u.opts.ReconnectMin)}
	backoff := u.opts.ReconnectMin
	u.back.reset(u.opts.ProbeSuccesses)
	for {
		started := time.Now()
		ep, ranked, err := u.choose(ctx, fails)
		if err == nil {
			err = u.sessionAt(ctx, ep, ranked[0])
		}
		u.connected.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if len(ranked) > 0 {
			u.back.ended(ep == ranked[0], time.Since(started), u.logger)
		}
		switch {
		case errors.Is(err, errRecatalog):
			u.logger.Info("reconnecting at once to send the new point catalog")
			backoff = u.opts.ReconnectMin
			continue
		case errors.Is(err, errSwitchBack):
			u.back.switched()
			fails.ok(ranked[0])
			backoff = u.opts.ReconnectMin
			continue
		}
		if time.Since(started) > 30*time.Second {
			backoff = u.opts.ReconnectMin
		}
		// Full jitter: many agents cut off together must not return together.
		wait := u.linkWait(err, time.Duration(rand.Int64N(int64(backoff)))+u.opts.ReconnectMin/2)
		if len(ranked) > 0 {
			fails.failed(ep, time.Now())
			if _, fresh := fails.pick(ranked, time.Now()); fresh {
				// Another aggregator is there to take the link now.
				wait = u.opts.ReconnectMin/2 + time.Duration(rand.Int64N(int64(u.opts.ReconnectMin/2)+1))
			}
		}
		u.logger.Warn("aggregator link down", "addr", ep.String(), "err", err, "retry_in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, u.opts.ReconnectMax)
	}
}

// addresses returns the configured aggregator addresses.
func (u *Uplink) addresses() []string {
	if len(u.opts.Addresses) > 0 {
		return u.opts.Addresses
	}
	return []string{u.opts.Address}
}

// choose resolves and ranks the candidates and picks the one to try.
func (u *Uplink) choose(ctx context.Context, fails *failures) (endpoint, []endpoint, error) {
	var r Resolver = net.DefaultResolver
	if u.opts.Resolver != nil {
		r = u.opts.Resolver
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	eps, err := resolve(rctx, r, u.addresses())
	if err != nil {
		return endpoint{}, nil, err
	}
	ranked := rendezvous(u.opts.Hello.GetSiteId(), eps)
	ep, _ := fails.pick(ranked, time.Now())
	return ep, ranked, nil
}

// dial returns a client connection to ep (it connects lazily).
func (u *Uplink) dial(ep endpoint) (*grpc.ClientConn, error) {
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(u.opts.Credentials),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                u.opts.Keepalive,
			Timeout:             u.opts.KeepaliveTimeout,
			PermitWithoutStream: true,
		}),
		grpc.WithDefaultCallOptions(u.callOptions()...),
		// The channel redials on a schedule of its own; left at gRPC's
		// default (up to 120 s) it would keep the link down long after the
		// network is back, whatever the session loop's backoff says.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  u.opts.ReconnectMin,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   u.opts.ReconnectMax,
			},
			MinConnectTimeout: 5 * time.Second,
		}),
	}
	if ep.Dial != ep.Address {
		// Dialled by IP, verified (TLS) and addressed by the configured name.
		opts = append(opts, grpc.WithAuthority(ep.authority()))
	}
	conn, err := grpc.NewClient(ep.Dial, opts...)
	if err != nil {
		return nil, fmt.Errorf("uplink to %s: %w", ep, err)
	}
	return conn, nil
}

// sessionAt runs one session on ep; away from preferred it probes that one
// to come back to it.
func (u *Uplink) sessionAt(ctx context.Context, ep, preferred endpoint) error {
	conn, err := u.dial(ep)
	if err != nil {
		return err
	}
	defer conn.Close()
	return u.session(ctx, lifelinev1.NewIngestClient(conn), ep, preferred)
}
