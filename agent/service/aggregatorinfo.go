package service

import "github.com/prometheus/client_golang/prometheus"

// aggregatorInfo exports which aggregator the link is on as a label: one
// series, value 1 while connected, labelled with the current endpoint.
type aggregatorInfo struct{ p *pipeline }

var aggregatorInfoDesc = prometheus.NewDesc(MetricUplinkAggregator,
	"1 while connected, labelled with the aggregator the link is on (0 with the last one while down).",
	[]string{"aggregator"}, nil)

func (a aggregatorInfo) Describe(ch chan<- *prometheus.Desc) { ch <- aggregatorInfoDesc }

func (a aggregatorInfo) Collect(ch chan<- prometheus.Metric) {
	s := a.p.uplink.Stats()
	if s.Aggregator == "" {
		return
	}
	v := 0.0
	if s.Connected {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(aggregatorInfoDesc, prometheus.GaugeValue, v, s.Aggregator)
}
