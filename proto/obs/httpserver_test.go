package obs

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestHTTPServerLifecycle(t *testing.T) {
	h := NewHTTPServer("test", nil)
	if err := h.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown before Serve: %v", err)
	}
	if h.Addr() != "" {
		t.Fatalf("Addr before Serve: %q", h.Addr())
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	if err := h.Serve(context.Background(), "127.0.0.1:0", &http.Server{Handler: ok}, "", ""); err != nil {
		t.Fatal(err)
	}
	addr := h.Addr()
	if code, body := get(t, "http://"+addr+"/"); code != 200 || body != "ok" {
		t.Fatalf("GET: %d %q", code, body)
	}
	if err := h.Serve(context.Background(), "127.0.0.1:0", &http.Server{Handler: ok}, "", ""); err == nil {
		t.Fatal("second Serve while serving succeeded")
	}
	taken := NewHTTPServer("second", nil)
	if err := taken.Serve(context.Background(), addr, &http.Server{Handler: ok}, "", ""); err == nil ||
		!strings.Contains(err.Error(), "second listen "+addr) {
		t.Fatalf("Serve on a taken address: %v", err)
	}
	for i := range 2 {
		if err := h.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown %d: %v", i, err)
		}
	}
	if h.Addr() != "" {
		t.Fatalf("Addr after Shutdown: %q", h.Addr())
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("listener still open after Shutdown")
	}
}

// A request that outlives Shutdown's context is cut off, and Shutdown
// still waits for the serving goroutine (goleak checks it is gone).
func TestHTTPServerShutdownCutsOffSlowRequest(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	h := NewHTTPServer("test", nil)
	if err := h.Serve(context.Background(), "127.0.0.1:0", &http.Server{Handler: slow}, "", ""); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + h.Addr() + "/")
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown with a request open past its context returned nil")
	}
	if err := <-errc; err == nil {
		t.Fatal("the slow request was not cut off")
	}
}
