package store

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"
)

// Config says how to reach ClickHouse.
type Config struct {
	// Addr is the native-protocol endpoint, host:port (default port 9000),
	// or several separated by commas (Addrs).
	Addr string
	// Database holds Lifeline's tables; Open creates it if missing.
	Database string
	// Username and Password authenticate; an empty Username means "default".
	Username string
	Password string
	// DialTimeout bounds connecting; ReadTimeout bounds waiting for a reply.
	DialTimeout time.Duration
	ReadTimeout time.Duration
	// Cluster names a cluster of the server's remote_servers. Set, the
	// schema is made ON CLUSTER: replicated local tables sharded by site
	// under Distributed tables of the public names (see cluster.go).
	// Empty means a single server.
	Cluster string
	// Inserts is how many samples inserts run at once (the writer's
	// inserts). Each has its own connection that keeps its encode and
	// compress buffers between inserts; 0 means 2.
	Inserts int
}

// DefaultConfig returns the defaults: a local server, database "lifeline".
func DefaultConfig() Config {
	return Config{
		Addr:        "127.0.0.1:9000",
		Database:    "lifeline",
		Username:    "default",
		DialTimeout: 5 * time.Second,
		ReadTimeout: 5 * time.Minute,
	}
}

// identifier is what Database may be: it is written into DDL unquoted.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate reports every invalid field. It changes nothing.
func (c Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("addr: required, host:port of the ClickHouse native protocol (e.g. 127.0.0.1:9000)"))
	} else {
		for _, a := range c.Addrs() {
			if _, _, err := net.SplitHostPort(a); err != nil {
				errs = append(errs, fmt.Errorf("addr %q: want host:port of the ClickHouse native protocol (e.g. 127.0.0.1:9000): %w", a, err))
			}
		}
	}
	if !identifier.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf("database %q: want letters, digits and underscores, not starting with a digit", c.Database))
	}
	if c.Cluster != "" && !identifier.MatchString(c.Cluster) {
		errs = append(errs, fmt.Errorf("cluster %q: want letters, digits and underscores, not starting with a digit", c.Cluster))
	}
	if c.DialTimeout <= 0 {
		errs = append(errs, fmt.Errorf("dial_timeout %s: must be positive", c.DialTimeout))
	}
	if c.ReadTimeout <= 0 {
		errs = append(errs, fmt.Errorf("read_timeout %s: must be positive", c.ReadTimeout))
	}
	return errors.Join(errs...)
}

// Addrs splits Addr at commas: the servers to connect to, in order. A
// connection goes to the first that answers; on a cluster, list replicas
// of the same cluster so that the aggregator outlives one of them.
func (c Config) Addrs() []string {
	var out []string
	for _, a := range strings.Split(c.Addr, ",") {
		out = append(out, strings.TrimSpace(a))
	}
	return out
}
