package ingest

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-telemetry/lifeline/aggregator/metrics"
)

// siteStreams exposes which sites have a stream, read from the Service's
// sessions at scrape time: 1 while a site's agent is connected, 0 once its
// stream ended (until the process restarts). One series a site is few
// enough for a park, and tells at a glance which plant went quiet.
type siteStreams struct {
	desc *prometheus.Desc
	src  atomic.Pointer[sessions] // set by NewService
}

func newSiteStreams() *siteStreams {
	return &siteStreams{desc: prometheus.NewDesc(metrics.IngestSiteConnected,
		"1 while the site's agent has a stream open, 0 after it ended (sites seen since the aggregator started).",
		[]string{"site"}, nil)}
}

func (c *siteStreams) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *siteStreams) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Load()
	if s == nil {
		return
	}
	for site, up := range s.sites() {
		v := 0.0
		if up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, site)
	}
}

// sites returns every site seen, true for those with a stream now.
func (s *sessions) sites() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]bool, len(s.active)+len(s.ended))
	for site := range s.ended {
		out[site] = false
	}
	for site := range s.active {
		out[site] = true
	}
	return out
}
