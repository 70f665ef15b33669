package obs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
)

// HTTPServer serves one http.Server on a listener of its own in the
// background: the lifecycle the metrics server, the console and the status
// page share, each with its own handler and timeouts.
type HTTPServer struct {
	name   string // in the listen error and the serve log: "metrics", "console"
	logger *slog.Logger

	mu   sync.Mutex
	srv  *http.Server
	addr string
	done chan struct{} // closed when the serving goroutine returns
}

// NewHTTPServer returns a server that names itself name in errors and logs.
// It does no I/O.
func NewHTTPServer(name string, logger *slog.Logger) *HTTPServer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &HTTPServer{name: name, logger: logger}
}

// Serve binds addr and serves srv on it in the background, over TLS when
// certFile is set. srv carries the handler and timeouts; Serve owns it from
// here on. It fails while already serving.
func (h *HTTPServer) Serve(ctx context.Context, addr string, srv *http.Server, certFile, keyFile string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv != nil {
		return fmt.Errorf("%s: already serving on %s", h.name, h.addr)
	}
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("%s listen %s: %w", h.name, addr, err)
	}
	done := make(chan struct{})
	h.srv, h.addr, h.done = srv, lis.Addr().String(), done
	go func() {
		defer close(done)
		var err error
		if certFile != "" {
			err = srv.ServeTLS(lis, certFile, keyFile)
		} else {
			err = srv.Serve(lis)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.logger.Error(h.name+" server", "err", err)
		}
	}()
	return nil
}

// Addr returns the bound address, or "" when not serving.
func (h *HTTPServer) Addr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addr
}

// Shutdown stops serving, letting open requests finish until ctx ends (then
// cutting them off), and waits for the serving goroutine. It is safe
// without Serve and more than once.
func (h *HTTPServer) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	srv, done := h.srv, h.done
	h.srv, h.done, h.addr = nil, nil, ""
	h.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		// A request (or a CPU profile) outlived ctx.
		err = errors.Join(err, srv.Close())
	}
	<-done
	return err
}
