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
// a channel of the code each one ends with, and a release that gives up
// the streams the server still holds (they end Canceled).
func silent(t *testing.T, client lifelinev1.IngestClient, n int) (<-chan codes.Code, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
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
	return ended, cancel
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

// heldLonger is a hello timeout longer than any test here runs: a test
// about the bounds must not see its held streams time out and free their
// slots while a loaded machine is still opening the rest.
const heldLonger = 10 * time.Minute

// One certificate opening 2,000 streams that never say hello holds at
// most its own bound of them; every stream over the bound is refused with
// ResourceExhausted and a RetryInfo, the refusals are counted and logged
// once, and another site is served while the bound is full.
func TestSilentStreamsCannotLockOthersOut(t *testing.T) {
	limits := DefaultStreamLimits()
	limits.HelloTimeout = heldLonger
	limits.HandshakesPerMinute = 60000 // this test is about open streams
	f := startSecure(t, secSetup{limits: limits, sites: []string{"ATTACK", "SITE-B"}})
	const n = 2000
	ended, release := silent(t, f.dial(t, "ATTACK", "127.0.0.1"), n)
	waitUntil(t, func() bool {
		return f.metric(t, metrics.IngestUnidentifiedStreams) == 4 &&
			f.labelled(t, metrics.IngestStreamRefusalsTotal, causeIdentityStreams) == n-4
	})
	f.acked(t, f.dial(t, "SITE-B", "127.0.0.1"), "SITE-B")

	// The four held streams end only when released: whatever ends
	// before is a refusal.
	if got := tally(t, ended, n-4); got[codes.ResourceExhausted] != n-4 {
		t.Fatalf("refused streams ended with %v, want %d ResourceExhausted with RetryInfo", got, n-4)
	}
	if v := f.metric(t, metrics.IngestUnidentifiedStreams); v != 4 {
		t.Fatalf("%v streams waiting for their hello after the refusals, want the 4 held", v)
	}
	release()
	if got := tally(t, ended, 4); got[codes.Canceled] != 4 {
		t.Fatalf("held streams ended with %v, want 4 Canceled by the client", got)
	}
	waitUntil(t, func() bool { return f.metric(t, metrics.IngestUnidentifiedStreams) == 0 })
	if l := f.logLines("ResourceExhausted"); l != 0 {
		t.Fatalf("%d refused streams logged one by one", l)
	}
	if l := f.logLines("agent stream refused", "cause="+causeIdentityStreams, "peer=ATTACK"); l != 1 {
		t.Fatalf("%d log lines for cause %s, want 1:\n%s", l, causeIdentityStreams, f.logs.String())
	}
	// The bound holds open streams only: the certificate is served again.
	f.acked(t, f.dial(t, "ATTACK", "127.0.0.1"), "ATTACK")
}

// Streams that never say hello are ended with DeadlineExceeded at the
// hello timeout, counted and logged once, and free their slots: the
// certificate that held its whole bound is served again.
func TestSilentStreamsEndAtHelloTimeout(t *testing.T) {
	limits := DefaultStreamLimits()
	limits.HelloTimeout = time.Second
	f := startSecure(t, secSetup{limits: limits, sites: []string{"ATTACK"}})
	ended, _ := silent(t, f.dial(t, "ATTACK", "127.0.0.1"), limits.StreamsPerIdentity)
	if got := tally(t, ended, limits.StreamsPerIdentity); got[codes.DeadlineExceeded] != limits.StreamsPerIdentity {
		t.Fatalf("silent streams ended with %v, want %d DeadlineExceeded", got, limits.StreamsPerIdentity)
	}
	if v := f.labelled(t, metrics.IngestStreamRefusalsTotal, causeHelloTimeout); v != float64(limits.StreamsPerIdentity) {
		t.Fatalf("hello timeouts counted: %v, want %d", v, limits.StreamsPerIdentity)
	}
	waitUntil(t, func() bool { return f.metric(t, metrics.IngestUnidentifiedStreams) == 0 })
	if l := f.logLines("agent stream refused", "cause="+causeHelloTimeout, "peer=ATTACK"); l != 1 {
		t.Fatalf("%d log lines for cause %s, want 1:\n%s", l, causeHelloTimeout, f.logs.String())
	}
	f.acked(t, f.dial(t, "ATTACK", "127.0.0.1"), "ATTACK")
}

// Streams without a certificate (a plain-text link) are bounded per remote
// address: a peer at 127.0.0.2 cannot take the slots of one at 127.0.0.1.
func TestStreamsBoundedPerAddress(t *testing.T) {
	limits := DefaultStreamLimits()
	limits.HelloTimeout = heldLonger
	limits.StreamsPerAddress = 10
	limits.HandshakesPerMinute = 60000
	f := startSecure(t, secSetup{insecure: true, limits: limits})
	ended, release := silent(t, f.dial(t, "", "127.0.0.2"), 50)
	waitUntil(t, func() bool { return f.labelled(t, metrics.IngestStreamRefusalsTotal, causeAddressStreams) == 40 })
	f.acked(t, f.dial(t, "", "127.0.0.1"), "SITE-B")
	if got := tally(t, ended, 40); got[codes.ResourceExhausted] != 40 {
		t.Fatalf("refused streams ended with %v, want 40 ResourceExhausted with RetryInfo", got)
	}
	release()
	if got := tally(t, ended, 10); got[codes.Canceled] != 10 {
		t.Fatalf("held streams ended with %v, want 10 Canceled by the client", got)
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
	ended, _ := silent(t, f.dial(t, "", "127.0.0.1"), 20)
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
