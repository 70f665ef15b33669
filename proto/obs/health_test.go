package obs

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func getWith(t *testing.T, url, accept string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Each endpoint answers 200 or 503 from its own checks, naming each one
// and why it failed; /readyz includes the liveness checks.
func TestHealthAndReadiness(t *testing.T) {
	var sourceUp atomic.Bool
	s := NewServer(MetricsConfig{Listen: "127.0.0.1:0"}, prometheus.NewRegistry(), nil)
	s.AddLiveness("loop", func(context.Context) (string, error) { return "came round 1ms ago", nil })
	s.AddReadiness("buffer", func(context.Context) (string, error) { return "open", nil })
	s.AddReadiness("opcua", func(context.Context) (string, error) {
		if sourceUp.Load() {
			return "", nil
		}
		return "", errors.New("no source is read: dcs (not connected)")
	})
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	base := "http://" + s.Addr()

	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	code, body := get(t, base+"/readyz")
	want := "[+]loop ok: came round 1ms ago\n[+]buffer ok: open\n[-]opcua failed: no source is read: dcs (not connected)\nreadyz check failed\n"
	if code != 503 || body != want {
		t.Fatalf("/readyz with the source down: %d %q, want 503 %q", code, body, want)
	}
	for _, accept := range []string{"", "application/json"} {
		url := base + "/readyz"
		if accept == "" {
			url += "?format=json"
		}
		code, body := getWith(t, url, accept)
		var rep HealthReport
		if err := json.Unmarshal([]byte(body), &rep); err != nil || code != 503 {
			t.Fatalf("JSON /readyz: %d %q: %v", code, body, err)
		}
		if rep.Status != "failed" || len(rep.Checks) != 3 || rep.Checks[2].OK || rep.Checks[2].Name != "opcua" ||
			!strings.Contains(rep.Checks[2].Error, "dcs") || rep.Checks[1].Note != "open" {
			t.Fatalf("JSON /readyz: %+v", rep)
		}
	}

	sourceUp.Store(true)
	if code, body := get(t, base+"/readyz"); code != 200 || body != "ok\n" {
		t.Fatalf("/readyz with the source up: %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz?verbose"); code != 200 || !strings.HasSuffix(body, "[+]opcua ok\nreadyz check passed\n") {
		t.Fatalf("/readyz?verbose: %d %q", code, body)
	}
}

// A check that never answers is cut off by the probe's
// bound and reported, not left hanging.
func TestHealthCheckBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		list := []named{{"stuck", func(ctx context.Context) (string, error) {
			<-ctx.Done()
			return "", ctx.Err()
		}}}
		start := time.Now()
		rep := runChecks(context.Background(), list)
		if took := time.Since(start); took != checkTimeout || rep.Status != "failed" ||
			!strings.Contains(rep.Checks[0].Error, "deadline exceeded") {
			t.Fatalf("after %s: %+v", took, rep)
		}
	})
}

func TestHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h Heartbeat
		check := h.Check(10 * time.Second)
		if note, err := check(t.Context()); err != nil || note != "not started yet" {
			t.Fatalf("before the first beat: %q %v", note, err)
		}
		h.Beat()
		time.Sleep(10 * time.Second)
		if _, err := check(t.Context()); err != nil {
			t.Fatalf("at the limit: %v", err)
		}
		time.Sleep(time.Second)
		if _, err := check(t.Context()); err == nil || !strings.Contains(err.Error(), "last came round 11s ago") {
			t.Fatalf("past the limit: %v", err)
		}
		h.Beat()
		if _, err := check(t.Context()); err != nil {
			t.Fatalf("after a beat: %v", err)
		}
		var none *Heartbeat
		none.Beat() // a loop without a heartbeat
	})
}

// Probes in quick succession, even many at once, reach the dependency at
// most once per ttl, and see its answer change after the ttl.
func TestCachedCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		var down atomic.Bool
		c := Cached(func(context.Context) (string, error) {
			calls.Add(1)
			time.Sleep(100 * time.Millisecond) // a ping in flight
			if down.Load() {
				return "", errors.New("connection refused")
			}
			return "up", nil
		}, 2*time.Second)
		done := make(chan error, 10)
		for range 10 {
			go func() {
				_, err := c(t.Context())
				done <- err
			}()
		}
		for range 10 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("10 concurrent probes made %d calls", n)
		}
		down.Store(true)
		time.Sleep(time.Second)
		if note, err := c(t.Context()); err != nil || note != "up" || calls.Load() != 1 {
			t.Fatalf("within the ttl: %q %v, %d calls", note, err, calls.Load())
		}
		time.Sleep(time.Second)
		if _, err := c(t.Context()); err == nil || calls.Load() != 2 {
			t.Fatalf("after the ttl: %v, %d calls", err, calls.Load())
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		time.Sleep(2 * time.Second)
		refreshed := make(chan struct{})
		go func() { // holds the refresh
			defer close(refreshed)
			_, _ = c(t.Context())
		}()
		synctest.Wait()
		if _, err := c(ctx); err == nil || !strings.Contains(err.Error(), "waiting for the check in flight") {
			t.Fatalf("a caller whose ctx ended while another refreshed: %v", err)
		}
		<-refreshed
	})
}
