package uplink

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"
)

// An agent may be given several aggregator addresses, and a name may
// resolve to several IPs. Every IP:port is a candidate endpoint. Sites
// spread over them by rendezvous hashing: each site ranks the candidates
// by a hash of (site, endpoint) and prefers the first, so adding or losing
// one aggregator moves only the sites that preferred it. The uplink uses
// the best-ranked candidate that has not failed recently, and probes the
// preferred one while it is elsewhere (see failover.go).

// endpoint is one candidate: the IP:port dialled, and the address it was
// configured as, whose host name (when it is one) is the TLS server name.
type endpoint struct {
	Dial    string // ip:port
	Address string // host:port as configured
}

// authority is the name TLS verifies and gRPC sends as :authority.
func (e endpoint) authority() string { return e.Address }

func (e endpoint) String() string {
	if e.Dial == e.Address {
		return e.Dial
	}
	return e.Address + " (" + e.Dial + ")"
}

// Resolver looks up a host's addresses; *net.Resolver is one.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// resolve turns the configured addresses into candidate endpoints, one per
// IP each name resolves to, looked up now (a DNS change is seen at the next
// attempt). A name that does not resolve is left out; only if none
// resolves is it an error.
func resolve(ctx context.Context, r Resolver, addresses []string) ([]endpoint, error) {
	var out []endpoint
	var firstErr error
	seen := map[string]bool{}
	for _, addr := range addresses {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("aggregator address %q: %w", addr, err)
		}
		var ips []string
		if net.ParseIP(host) != nil {
			ips = []string{host}
		} else {
			ips, err = r.LookupHost(ctx, host)
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("resolve %s: %w", host, err)
				}
				continue
			}
		}
		for _, ip := range ips {
			dial := net.JoinHostPort(ip, port)
			if seen[dial] {
				continue
			}
			seen[dial] = true
			out = append(out, endpoint{Dial: dial, Address: addr})
		}
	}
	if len(out) == 0 {
		if firstErr == nil {
			firstErr = fmt.Errorf("no aggregator address")
		}
		return nil, firstErr
	}
	return out, nil
}

// rendezvous orders endpoints by their rendezvous weight for site, highest
// first: the first is the site's preferred aggregator.
func rendezvous(site string, eps []endpoint) []endpoint {
	out := slices.Clone(eps)
	weight := func(e endpoint) uint64 {
		h := sha256.Sum256([]byte(site + "\x00" + e.Dial))
		return binary.BigEndian.Uint64(h[:8])
	}
	slices.SortStableFunc(out, func(a, b endpoint) int {
		wa, wb := weight(a), weight(b)
		switch {
		case wa > wb:
			return -1
		case wa < wb:
			return 1
		}
		return 0
	})
	return out
}

// failures remembers when each endpoint last failed, so the next attempt
// goes to another one instead of hammering a dead aggregator.
type failures struct {
	cooldown time.Duration
	mu       sync.Mutex
	at       map[string]time.Time
}

func (f *failures) failed(e endpoint, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.at == nil {
		f.at = map[string]time.Time{}
	}
	f.at[e.Dial] = now
}

func (f *failures) ok(e endpoint) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.at, e.Dial)
}

// pick returns the best-ranked endpoint that has not failed within the
// cooldown; when all have, the one that failed longest ago, with fresh
// false so the caller backs off before trying it.
func (f *failures) pick(ranked []endpoint, now time.Time) (e endpoint, fresh bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	oldest := -1
	for i, c := range ranked {
		at, failed := f.at[c.Dial]
		if !failed || now.Sub(at) >= f.cooldown {
			return c, true
		}
		if oldest < 0 || at.Before(f.at[ranked[oldest].Dial]) {
			oldest = i
		}
	}
	return ranked[oldest], false
}
