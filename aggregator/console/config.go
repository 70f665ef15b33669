// Package console serves the alarm console: a park's operators list its
// alarms, acknowledge them with cause and measures, shelve and close them.
package console

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Config is the console section of the aggregator's configuration.
type Config struct {
	// Listen is the console's HTTP(S) address; empty turns it off. Keep it
	// on loopback behind a reverse proxy, or give it tls.
	Listen string `yaml:"listen"`
	// UsersFile lists each park's users with bcrypt password hashes.
	UsersFile string `yaml:"users_file"`
	TLS       TLS    `yaml:"tls"`
	// MaxShelve bounds how long an alarm may be shelved (ISA-18.2).
	MaxShelve time.Duration `yaml:"max_shelve"`
	// SessionTTL is how long a login lasts.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// Lookback is how far back cleared alarms still awaiting
	// acknowledgement or closing are listed; active ones always are.
	Lookback time.Duration `yaml:"lookback"`
	// Origins are the origins (scheme://host[:port]) a browser may post
	// from besides the console's own, e.g. the address a proxy serves it on.
	Origins []string `yaml:"origins"`
	Proxy   Proxy    `yaml:"proxy"`
}

// TLS names the console's certificate; both empty serves plain HTTP.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Proxy trusts an authenticating reverse proxy: a request from one of
// Trusted carrying UserHeader is that user, without a password.
type Proxy struct {
	UserHeader string   `yaml:"user_header"`
	Trusted    []string `yaml:"trusted"` // addresses or prefixes (10.0.0.0/8) of the proxy
}

// DefaultConfig is off, with ISA-18.2-minded bounds once turned on.
func DefaultConfig() Config {
	return Config{MaxShelve: 8 * time.Hour, SessionTTL: 12 * time.Hour, Lookback: 7 * 24 * time.Hour,
		Origins: []string{}, Proxy: Proxy{Trusted: []string{}}}
}

// Validate reports every problem, each naming its option.
func (c Config) Validate() error {
	if c.Listen == "" {
		return nil
	}
	var errs []error
	if c.UsersFile == "" {
		errs = append(errs, errors.New("console.users_file: required when console.listen is set"))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, errors.New("console.tls: want both cert_file and key_file, or neither"))
	}
	if c.MaxShelve <= 0 || c.SessionTTL <= 0 || c.Lookback <= 0 {
		errs = append(errs, errors.New("console: max_shelve, session_ttl and lookback must be positive"))
	}
	for _, o := range c.Origins {
		if !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") || strings.HasSuffix(o, "/") {
			errs = append(errs, fmt.Errorf("console.origins %q: want scheme://host[:port]", o))
		}
	}
	if _, err := c.Proxy.prefixes(); err != nil {
		errs = append(errs, err)
	}
	if (c.Proxy.UserHeader == "") != (len(c.Proxy.Trusted) == 0) {
		errs = append(errs, errors.New("console.proxy: want both user_header and trusted, or neither"))
	}
	return errors.Join(errs...)
}

func (p Proxy) prefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range p.Trusted {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("console.proxy.trusted %q: want an address or a prefix", s)
		}
		out = append(out, pfx.Masked())
	}
	return out, nil
}
