package obstest

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Probe GETs url, as a probe (a kubelet, a load balancer, curl) would, and
// returns the status code and the body.
func Probe(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// WaitProbe probes url until it answers code with a body holding every
// string of want, failing with the last answer after limit.
func WaitProbe(t testing.TB, url, what string, limit time.Duration, code int, want ...string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got, body := Probe(t, url)
		ok := got == code
		for _, w := range want {
			ok = ok && strings.Contains(body, w)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %d\n%s", limit, what, got, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
