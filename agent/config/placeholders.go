package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// Placeholders names the values of the example configuration still in c:
// the packages install packaging/config/agent.yaml as /etc/lifeline/agent.yaml,
// and its OPC UA server sits at an address reserved for documentation
// (RFC 5737, RFC 3849, RFC 2606), which can never be a plant's server.
// Each entry names the option and what belongs there. Validate accepts
// these values (a test may point at an address that never answers); check
// and run refuse them.
func Placeholders(c Config) []string {
	var out []string
	for _, addr := range c.Aggregator.Targets() {
		if host, _, err := net.SplitHostPort(addr); err == nil && documentationHost(host) {
			out = append(out, fmt.Sprintf("aggregator.address %q: %s is an example address; set the aggregator's host:port", addr, host))
		}
	}
	for _, s := range c.Sources {
		u, err := url.Parse(s.Endpoint)
		if err != nil || !documentationHost(u.Hostname()) {
			continue
		}
		out = append(out, fmt.Sprintf("sources[%s].endpoint %q: %s is an example address; set the plant's OPC UA server "+
			"(and its points: find nodes with 'lifeline-agent browse', import a point list with 'lifeline-agent points import')",
			s.Name, s.Endpoint, u.Hostname()))
	}
	return out
}

// documentationHost reports whether host is an address or name reserved for
// documentation and examples.
func documentationHost(host string) bool {
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		for _, p := range []string{"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"} {
			if netip.MustParsePrefix(p).Contains(a) {
				return true
			}
		}
		return false
	}
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	for _, d := range []string{"example.com", "example.net", "example.org", "example"} {
		if h == d || strings.HasSuffix(h, "."+d) {
			return true
		}
	}
	return false
}
