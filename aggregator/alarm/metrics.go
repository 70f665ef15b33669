package alarm

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-telemetry/lifeline/aggregator/metrics"
)

// Metrics are the evaluator's Prometheus metrics.
type Metrics struct {
	raised   *prometheus.CounterVec
	cleared  *prometheus.CounterVec
	queued   prometheus.GaugeFunc
	dropped  prometheus.Counter
	replayed prometheus.Counter
	readBack prometheus.GaugeFunc
	failures prometheus.Counter
}

// NewMetrics creates the metrics of e and registers them with reg (which
// may be nil). Call it before e.Run.
func NewMetrics(e *Evaluator, reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		raised: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.AlarmRaisedTotal, Help: "Alarms raised, by condition (HH, H, L, LL, stage1, stage2, bad_quality, stale, comm_loss)."},
			[]string{"condition"}),
		cleared: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.AlarmClearedTotal, Help: "Alarms cleared, by condition."}, []string{"condition"}),
		queued: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: metrics.AlarmQueuedSamples, Help: "Committed samples waiting for alarm evaluation."},
			func() float64 { return float64(e.queued.Load()) }),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.AlarmDroppedBatchesTotal, Help: "Batches that did not fit the queue and were read back from ClickHouse."}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.AlarmReplayedBatchesTotal, Help: "Batches evaluated from ClickHouse (after a restart or a full queue)."}),
		readBack: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: metrics.AlarmReadBackSites, Help: "Sites with batches waiting to be read back from ClickHouse for evaluation."},
			func() float64 { return float64(e.readBackSites()) }),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.AlarmWriteFailuresTotal, Help: "Failed writes of alarm events or checkpoints (retried)."}),
	}
	if reg != nil {
		reg.MustRegister(m.raised, m.cleared, m.queued, m.dropped, m.replayed, m.readBack, m.failures)
	}
	e.metrics = m
	return m
}

func (e *Evaluator) replayedOne() {
	if e.metrics != nil {
		e.metrics.replayed.Inc()
	}
}

func (e *Evaluator) failed() {
	if e.metrics != nil {
		e.metrics.failures.Inc()
	}
}
