package ingest

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lifeline-telemetry/lifeline/aggregator/metrics"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// silent opens n streams on client that never send a hello and returns
// a channel of the code each one ends with.
func silent(t *testing.T, client lifelinev1.IngestClient, n int) <-chan codes.Code {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	ended := make(chan codes.Code, n)
	var wg sync.WaitGroup
	for range n {
		st, err := client.Stream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			_, err := st.Recv()
			if code := status.Code(err); code == codes.ResourceExhausted && !hasRetryInfo(err) {
				ended <- codes.Unknown // refused without telling when to retry
			} else {
				ended <- code
			}
		})
	}
	t.Cleanup(wg.Wait)
	return ended
}

func hasRetryInfo(err error) bool {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().AsDuration() > 0 {
			return true
		}
	}
	return false
}

func tally(t *testing.T, ended <-chan codes.Code, n int) map[codes.Code]int {
	t.Helper()
	got := map[codes.Code]int{}
	for range n {
		select {
		case c := <-ended:
			got[c]++
		case <-time.After(30 * time.Second):
			t.Fatalf("streams still open after 30 s: %v", got)
		}
	}
	return got
}

// One certificate opening 2,000 streams that never say hello holds at
// most its own bound of them, for at most the hello timeout; every stream
// over the bound is refused with ResourceExhausted and a RetryInfo, the
// refusals are counted and logged once, and another site is served
// throughout.
func TestSilentStreamsCannotLockOthersOut(t *testing.T) {
	limits := DefaultStreamLimits()
	limits.HelloTimeout = 3 * time.Second
	limits.HandshakesPerMinute = 60000 // this test is about open streams
	f := startSecure(t, secSetup{limits: limits, sites: []string{"ATTACK", "SITE-B"}})
	const n = 2000
	ended := silent(t, f.dial(t, "ATTACK", "127.0.0.1"), n)
	waitUntil(t, func() bool {
		return f.metric(t, metrics.IngestUnidentifiedStreams) == 4 &&
			f.labelled(t, metrics.IngestStreamRefusalsTotal, causeIdentityStreams) == n-4
	})
	f.acked(t, f.dial(t, "SITE-B", "127.0.0.1"), "SITE-B")

	got := tally(t, ended, n)
	if got[codes.ResourceExhausted] != n-4 || got[codes.DeadlineExceeded] != 4 {
		t.Fatalf("silent streams ended with %v, want %d ResourceExhausted with RetryInfo and 4 DeadlineExceeded", got, n-4)
	}
	if v := f.labelled(t, metrics.IngestStreamRefusalsTotal, causeHelloTimeout); v != 4 {
		t.Fatalf("hello timeouts counted: %v, want 4", v)
	}
	waitUntil(t, func() bool { return f.metric(t, metrics.IngestUnidentifiedStreams) == 0 })
	if l := f.logLines("ResourceExhausted"); l != 0 {
		t.Fatalf("%d refused streams logged one by one", l)
	}
	for _, cause := range []string{causeIdentityStreams, causeHelloTimeout} {
		if l := f.logLines("agent stream refused", "cause="+cause, "peer=ATTACK"); l != 1 {
			t.Fatalf("%d log lines for cause %s, want 1:\n%s", l, cause, f.logs.String())
		}
	}
	// The bound holds open streams only: the certificate is served again.
	f.acked(t, f.dial(t, "ATTACK", "127.0.0.1"), "ATTACK")
}

// Streams without a certificate (a plain-text link) are bounded per remote
// address: a peer at 127.0.0.2 cannot take the slots of one at 127.0.0.1.
func TestStreamsBoundedPerAddress(t *testing.T) {
	limits := DefaultStreamLimits()
	limits.HelloTimeout = 3 * time.Second
	limits.StreamsPerAddress = 10
	limits.HandshakesPerMinute = 60000
	f := startSecure(t, secSetup{insecure: true, limits: limits})
	ended := silent(t, f.dial(t, "", "127.0.0.2"), 50)
	waitUntil(t, func() bool { return f.labelled(t, metrics.IngestStreamRefusalsTotal, causeAddressStreams) == 40 })
	f.acked(t, f.dial(t, "", "127.0.0.1"), "SITE-B")
	got := tally(t, ended, 50)
	if got[codes.ResourceExhausted] != 40 || got[codes.DeadlineExceeded] != 10 {
		t.Fatalf("streams ended with %v, want 40 ResourceExhausted with RetryInfo and 10 DeadlineExceeded", got)
	}
	if l := f.logLines("agent stream refused", "cause="+causeAddressStreams, "peer=127.0.0.2"); l != 1 {
		t.Fatalf("%d log lines for the address bound, want 1", l)
	}
}

// A certificate reconnecting in a tight loop is refused by the handshake
// rate limit; another site's handshakes go on.
func TestHandshakeRateLimitedPerIdentity(t *testing.T) {
	limits := DefaultStreamLimits()
	limits.HandshakesPerMinute = 6 // a burst of one
	f := startSecure(t, secSetup{limits: limits, sites: []string{"ATTACK", "SITE-B"}})
	attacker := f.dial(t, "ATTACK", "127.0.0.1")
	f.acked(t, attacker, "ATTACK")
	for i := range 20 {
		if _, err := f.connectAs(t, attacker, "ATTACK"); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("handshake %d in a tight loop: %v, want ResourceExhausted", i+2, err)
		}
	}
	f.acked(t, f.dial(t, "SITE-B", "127.0.0.1"), "SITE-B")
	if v := f.labelled(t, metrics.IngestStreamRefusalsTotal, causeHandshakeRate); v != 20 {
		t.Fatalf("handshake refusals counted: %v, want 20", v)
	}
	if l := f.logLines("agent stream refused", "cause="+causeHandshakeRate, "peer=ATTACK"); l != 1 {
		t.Fatalf("%d log lines for the handshake rate, want 1", l)
	}
}

// A stream without a verified certificate is refused by the auth
// interceptor before any message is read, counted and logged once.
func TestStreamWithoutCertificateRefusedByInterceptor(t *testing.T) {
	f := startSecure(t, secSetup{insecure: true, anonymous: true, limits: DefaultStreamLimits()})
	ended := silent(t, f.dial(t, "", "127.0.0.1"), 20)
	if got := tally(t, ended, 20); got[codes.Unauthenticated] != 20 {
		t.Fatalf("streams without a certificate ended with %v, want Unauthenticated", got)
	}
	if v := f.labelled(t, metrics.IngestStreamRefusalsTotal, causeUnauthenticated); v != 20 {
		t.Fatalf("refusals counted: %v, want 20", v)
	}
	if f.metric(t, metrics.IngestUnidentifiedStreams) != 0 {
		t.Fatal("a refused stream counts as waiting for its hello")
	}
	if l := f.logLines("agent stream refused", "cause="+causeUnauthenticated); l != 1 {
		t.Fatalf("%d log lines, want 1", l)
	}
}
