package statuspage

import (
	"context"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

//go:embed assets
var assets embed.FS

// indexPage is the page's one HTML document; only its language varies.
var indexPage = template.Must(template.ParseFS(assets, "assets/index.html"))

// Point limits of a poll: the default, and the most a client may ask for.
const (
	defaultLimit = 500
	maxLimit     = 5000
)

// Server serves the status page on its own listener.
type Server struct {
	cfg    config.StatusPage
	snap   Snapshotter
	logger *slog.Logger
	web    *obs.HTTPServer
}

// New returns a server for the page; it does no I/O.
func New(cfg config.StatusPage, snap Snapshotter, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, snap: snap, logger: logger, web: obs.NewHTTPServer("status page", logger)}
}

// Start binds the listener and serves in the background; with an empty
// Listen it does nothing.
func (s *Server) Start(ctx context.Context) error {
	if s.cfg.Listen == "" {
		return nil
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	return s.web.Serve(ctx, s.cfg.Listen, srv, "", "")
}

// Addr returns the bound address, or "" when not serving.
func (s *Server) Addr() string { return s.web.Addr() }

// Shutdown stops serving and waits for the serving goroutine; open
// requests get until ctx ends. It is safe without Start and more than once.
func (s *Server) Shutdown(ctx context.Context) error { return s.web.Shutdown(ctx) }

// Handler serves the page, its assets and /api/status.
func (s *Server) Handler() http.Handler {
	static, _ := fs.Sub(assets, "assets")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.serveIndex)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /api/status", s.serveStatus)
	return s.guard(mux)
}

// guard makes every response read-only and self-contained: GET and HEAD
// only, no resource from elsewhere, no framing, and (unless the page is
// meant for the network) only Host names of this machine, so a web page
// elsewhere cannot read the plant's values through DNS rebinding.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "read-only", http.StatusMethodNotAllowed)
			return
		}
		if !s.cfg.AllowRemote && !localHost(r.Host) {
			http.Error(w, "unknown host", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// localHost reports whether a Host header names this machine's loopback.
func localHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	if err := indexPage.Execute(w, struct{ Lang string }{Language(r)}); err != nil {
		s.logger.Warn("status page: write index", "err", err)
	}
}

func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	f := Filter{Query: r.URL.Query().Get("q"), Limit: defaultLimit}
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n >= 0 {
		f.Limit = min(n, maxLimit)
	}
	st := s.snap.StatusSnapshot(f)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(st); err != nil {
		s.logger.Warn("status page: write status", "err", err)
	}
}
