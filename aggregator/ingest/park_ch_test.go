package ingest

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lifeline-telemetry/lifeline/aggregator/registry"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// refused returns lifeline_ingest_stream_refusals_total for cause.
func (f *chFixture) refused(t *testing.T, cause string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "lifeline_ingest_stream_refusals_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "cause" && l.GetValue() == cause {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func (f *chFixture) park(t *testing.T, site string) string {
	t.Helper()
	var park string
	if err := chtest.Conn(t, f.store.Config().Addr, f.store.Config().Database).QueryRow(context.Background(),
		"SELECT park FROM sites FINAL WHERE site_id = ?", site).Scan(&park); err != nil {
		t.Fatalf("park of %s: %v", site, err)
	}
	return park
}

func parkHello(site, park string) *lifelinev1.AgentMessage {
	m := helloFor(site, "b-"+site, 0, 0)
	m.GetHello().Park = park
	return m
}

// A site cannot move itself into another park: the registry's park wins,
// and an unregistered site keeps the park it first announced. The refused
// agent is counted once per attempt; a bystander's batches keep being
// acked and stored throughout.
func TestSiteCannotChangePark(t *testing.T) {
	f := startCH(t, writer.DefaultOptions())
	logs := f.captureLogs()
	ctx := context.Background()
	reg := &registry.File{Enterprises: []registry.Enterprise{{Site: "S1", Name: "一厂", Park: "P1"}}}
	if err := reg.Apply(ctx, f.store); err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour)
	bystander, _, err := f.connect(t, parkHello("S3", "P3"))
	if err != nil {
		t.Fatal(err)
	}
	bystander.send(first, first+4, base)
	bystander.acks(5)

	// Registered S1 claims P2.
	if _, _, err := f.connect(t, parkHello("S1", "P2")); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("S1 claiming P2: %v, want FailedPrecondition", err)
	}
	if got := f.refused(t, causeParkMismatch); got != 1 {
		t.Fatalf("park_mismatch refusals %v, want 1", got)
	}
	// Its own park, or none, is accepted and the registry's is recorded.
	s1, _, err := f.connect(t, parkHello("S1", ""))
	if err != nil {
		t.Fatal(err)
	}
	s1.send(first, first+1, base)
	s1.acks(2)
	if p := f.park(t, "S1"); p != "P1" {
		t.Fatalf("S1 park %q, want the registry's P1", p)
	}

	// Unregistered S4 is pinned to the park of its first hello.
	s4, _, err := f.connect(t, parkHello("S4", "P4"))
	if err != nil {
		t.Fatal(err)
	}
	s4.cancel()
	waitUntil(t, func() bool { return f.svc.ConnectedSites() == 2 })
	if _, _, err := f.connect(t, parkHello("S4", "P1")); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("S4 moving to P1: %v, want FailedPrecondition", err)
	}
	if p := f.park(t, "S4"); p != "P4" {
		t.Fatalf("S4 park %q, want P4", p)
	}
	// A hello moving live S3 is refused before it can displace S3's stream.
	if _, _, err := f.connect(t, parkHello("S3", "P1")); status.Code(err) != codes.FailedPrecondition ||
		!strings.Contains(status.Convert(err).Message(), "pinned") {
		t.Fatalf("S3 moving to P1: %v, want FailedPrecondition naming the pinned park", err)
	}
	if got := f.refused(t, causeParkMismatch); got != 3 {
		t.Fatalf("park_mismatch refusals %v, want 3", got)
	}
	if p := f.park(t, "S3"); p != "P3" {
		t.Fatalf("S3 park %q, want P3", p)
	}
	// The refused hello did not displace S3's live stream: it keeps being acked.
	bystander.send(first+5, first+9, base)
	bystander.acks(5)
	if rows, _, _ := f.counts(t, "S3"); rows != 100 {
		t.Fatalf("S3 has %d rows, want 100", rows)
	}
	if n := logs.get("refused agent stream " + causeParkMismatch); n != 3 {
		t.Fatalf("%d park_mismatch log lines for 3 refusals", n)
	}
}

// With require_registered a site the registry does not list is refused.
func TestRequireRegisteredRefusesUnlistedSite(t *testing.T) {
	f := startCH(t, writer.DefaultOptions(), func(o *Options) { o.RequireRegistered = true })
	reg := &registry.File{Enterprises: []registry.Enterprise{{Site: "S1", Name: "一厂", Park: "P1"}}}
	if err := reg.Apply(context.Background(), f.store); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.connect(t, parkHello("S9", "P1")); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("unlisted S9: %v, want FailedPrecondition", err)
	}
	if got := f.refused(t, causeUnregistered); got != 1 {
		t.Fatalf("unregistered refusals %v, want 1", got)
	}
	s1, _, err := f.connect(t, parkHello("S1", "P1"))
	if err != nil {
		t.Fatal(err)
	}
	s1.send(first, first+2, time.Now().Add(-time.Hour))
	s1.acks(3)
}

// logCount counts the log records of a service by message and cause.
type logCount struct {
	mu     sync.Mutex
	counts map[string]int
	long   int
}

func (l *logCount) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCount) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logCount) WithGroup(string) slog.Handler            { return l }
func (l *logCount) Handle(_ context.Context, r slog.Record) error {
	key := r.Message
	size := len(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "cause" {
			key += " " + a.Value.String()
		}
		size += len(a.Value.String())
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[key]++
	l.long = max(l.long, size)
	return nil
}

func (l *logCount) get(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[key]
}

// captureLogs makes the service log into a counter; call it before the
// first stream.
func (f *chFixture) captureLogs() *logCount {
	l := &logCount{counts: map[string]int{}}
	f.svc.logger = slog.New(l)
	return l
}
