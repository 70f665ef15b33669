package ingest

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lifeline-telemetry/lifeline/aggregator/metrics"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// panicky panics where a bug would: in the handshake (on the handler's
// goroutine) for site BOOM, and in Submit (on the receive goroutine or the
// backfill lane) for the other BOOM sites.
type panicky struct {
	Ledger
	w Writer
}

func (p panicky) SaveCatalog(ctx context.Context, site, park, version string, points []*lifelinev1.Point) error {
	if site == "BOOM" {
		panic("catalog bug")
	}
	return p.Ledger.SaveCatalog(ctx, site, park, version, points)
}

func (p panicky) Submit(ctx context.Context, b *store.Batch, done func(error)) error {
	if strings.HasPrefix(b.SiteID, "BOOM") {
		panic("submit bug")
	}
	return p.w.Submit(ctx, b, done)
}

// A panic in a handler, in its receive goroutine or in its backfill lane
// ends that stream with Internal and is counted; the process keeps
// serving every other site.
func TestPanicEndsOnlyItsStream(t *testing.T) {
	f := startSecure(t, secSetup{limits: DefaultStreamLimits(), sites: []string{"BOOM", "BOOM-LIVE", "BOOM-BACKFILL", "SITE-B"},
		wrap: func(l Ledger, w Writer) (Ledger, Writer) { p := panicky{Ledger: l, w: w}; return p, p }})
	if _, err := f.connectAs(t, f.dial(t, "BOOM", "127.0.0.1"), "BOOM"); status.Code(err) != codes.Internal {
		t.Fatalf("panic in the handshake: %v, want Internal", err)
	}
	for _, c := range []struct {
		site     string
		backfill bool
	}{{"BOOM-LIVE", false}, {"BOOM-BACKFILL", true}} {
		st, err := f.connectAs(t, f.dial(t, c.site, "127.0.0.1"), c.site)
		if err != nil {
			t.Fatal(err)
		}
		msg := batch(1, num("P1", time.Now().Add(-time.Minute), 1))
		msg.GetBatch().Backfill = c.backfill
		if err := st.st.Send(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := st.st.Recv(); status.Code(err) != codes.Internal {
			t.Fatalf("%s: panic in a goroutine of the stream: %v, want Internal", c.site, err)
		}
	}
	// The panicked streams left nothing the sites' next streams wait for.
	for _, site := range []string{"BOOM-LIVE", "BOOM-BACKFILL"} {
		if _, err := f.connectAs(t, f.dial(t, site, "127.0.0.1"), site); err != nil {
			t.Fatalf("%s reconnecting after a panic: %v", site, err)
		}
	}
	f.acked(t, f.dial(t, "SITE-B", "127.0.0.1"), "SITE-B")
	if v := f.metric(t, metrics.IngestPanicsTotal); v != 3 {
		t.Fatalf("panics counted: %v, want 3", v)
	}
	if l := f.logLines("panic in ingest handler"); l != 3 {
		t.Fatalf("%d panic log lines, want 3", l)
	}
}
