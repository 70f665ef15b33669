package obs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsConfig is the `metrics` section of a configuration file. An empty
// Listen turns the server off.
type MetricsConfig struct {
	Listen string `yaml:"listen"`
	// Pprof adds Go's /debug/pprof handlers to the same listener, for
	// diagnosing memory and CPU on the host; keep the listener on loopback
	// when it is on.
	Pprof bool `yaml:"pprof"`
}

// Validate reports a Listen that is not host:port, by its key in the file.
// It changes nothing.
func (c MetricsConfig) Validate() error {
	if c.Listen == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("metrics.listen %q: want host:port or empty", c.Listen)
	}
	return nil
}

// Server serves /metrics, /healthz and /readyz (and /debug/pprof when
// configured) over HTTP.
type Server struct {
	cfg      MetricsConfig
	gatherer prometheus.Gatherer
	logger   *slog.Logger
	live     checks // /healthz, and /readyz first
	ready    checks // /readyz

	web *HTTPServer

	mu      sync.Mutex
	started bool
}

// NewServer returns a server for the metrics g gathers. It does no I/O.
func NewServer(cfg MetricsConfig, g prometheus.Gatherer, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, gatherer: g, logger: logger, web: NewHTTPServer("metrics", logger)}
}

// AddLiveness adds a check to /healthz (and /readyz): one that fails when
// the process is wedged and only a restart helps, such as a main loop that
// stopped coming round. A dependency being down is not one.
func (s *Server) AddLiveness(name string, c Check) { s.live.add(name, c) }

// AddReadiness adds a check to /readyz: one that fails while the process
// cannot do its work (a dependency down, a listener not serving), which a
// restart would not cure.
func (s *Server) AddReadiness(name string, c Check) { s.ready.add(name, c) }

// Start validates the configuration, binds the listener and serves in the
// background. With an empty Listen it does nothing. It may be called once.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("metrics server: started twice")
	}
	s.started = true
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	if s.cfg.Listen == "" {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}))
	mux.Handle("/healthz", healthHandler("healthz", &s.live))
	mux.Handle("/readyz", healthHandler("readyz", &s.live, &s.ready))
	if s.cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return s.web.Serve(ctx, s.cfg.Listen, srv, "", "")
}

// Addr returns the bound address, or "" when not serving.
func (s *Server) Addr() string { return s.web.Addr() }

// Shutdown stops serving, letting open scrapes finish until ctx ends, and
// waits for the serving goroutine. It is safe without Start and more than
// once.
func (s *Server) Shutdown(ctx context.Context) error { return s.web.Shutdown(ctx) }

// ShutdownWithin shuts down as Shutdown, giving open scrapes at most limit:
// a binary's own shutdown must not hang on a scraper.
func (s *Server) ShutdownWithin(limit time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	_ = s.Shutdown(ctx)
}
