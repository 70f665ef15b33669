package ingest

import (
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/metrics"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
)

// siteConnected returns lifeline_ingest_site_connected by site.
func (f *chFixture) siteConnected(t *testing.T) map[string]float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != metrics.IngestSiteConnected {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	return out
}

// A site's series is 1 while its agent's stream is open and 0 once it
// ended; a site that never connected has none.
func TestSiteConnectedMetric(t *testing.T) {
	f := startCH(t, writer.DefaultOptions())
	if got := f.siteConnected(t); len(got) != 0 {
		t.Fatalf("before any stream: %v", got)
	}
	a, _, err := f.connect(t, helloFor("S1", "b1", 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := f.connect(t, helloFor("S2", "b2", 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.siteConnected(t); len(got) != 2 || got["S1"] != 1 || got["S2"] != 1 {
		t.Fatalf("two streams open: %v", got)
	}
	a.cancel()
	deadline := time.Now().Add(10 * time.Second)
	for got := f.siteConnected(t); got["S1"] != 0 || got["S2"] != 1; got = f.siteConnected(t) {
		if time.Now().After(deadline) {
			t.Fatalf("after S1's stream ended: %v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.cancel()
}
