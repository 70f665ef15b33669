package console

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

//go:embed assets
var assets embed.FS

// Store is what the console reads and writes.
type Store interface {
	ParkAlarms(ctx context.Context, park string, sinceNs int64, limit int) ([]store.Disposition, error)
	ParkAlarm(ctx context.Context, park string, key store.AlarmKey) (store.Disposition, bool, error)
	SaveAlarmAction(ctx context.Context, a store.AlarmAction) error
}

// Server is the console's HTTP server.
type Server struct {
	cfg      Config
	st       Store
	logger   *slog.Logger
	now      func() time.Time
	sessions *sessions
	throttle *throttle
	trusted  []netip.Prefix
	users    Users
	web      *obs.HTTPServer
}

// New returns a console for cfg on st. It does no I/O; Start reads the
// users file and listens.
func New(cfg Config, st Store, logger *slog.Logger) *Server {
	return &Server{cfg: cfg, st: st, logger: logger, now: time.Now, sessions: newSessions(cfg.SessionTTL),
		throttle: newThrottle(), web: obs.NewHTTPServer("console", logger)}
}

// Start validates the configuration, reads the users and serves in the
// background. With an empty Listen it does nothing.
func (s *Server) Start(ctx context.Context) error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	if s.cfg.Listen == "" {
		return nil
	}
	users, err := LoadUsers(s.cfg.UsersFile)
	if err != nil {
		return err
	}
	s.trusted, _ = s.cfg.Proxy.prefixes()
	s.users = users
	srv := &http.Server{Handler: s.handler(), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, MaxHeaderBytes: 64 << 10}
	if err := s.web.Serve(ctx, s.cfg.Listen, srv, s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile); err != nil {
		return err
	}
	s.logger.Info("console serving", "addr", s.web.Addr(), "users", len(users), "tls", s.cfg.TLS.CertFile != "")
	return nil
}

// Addr returns the bound address, or "" when not serving.
func (s *Server) Addr() string { return s.web.Addr() }

// Shutdown stops serving, letting requests finish until ctx ends, and
// waits for the serving goroutine. It is safe without Start and twice.
func (s *Server) Shutdown(ctx context.Context) error { return s.web.Shutdown(ctx) }

func (s *Server) handler() http.Handler {
	static, _ := fs.Sub(assets, "assets")
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(static))
	mux.HandleFunc("GET /api/session", s.getSession)
	mux.HandleFunc("POST /api/login", s.login)
	mux.HandleFunc("POST /api/logout", s.authed(s.logout))
	mux.HandleFunc("GET /api/alarms", s.authed(s.listAlarms))
	mux.HandleFunc("POST /api/alarms/{action}", s.authed(s.act))
	return headers(mux)
}

// headers sets what every answer needs: no framing (clickjacking), no
// sniffing, no caching of alarm data, and only the console's own scripts.
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}
