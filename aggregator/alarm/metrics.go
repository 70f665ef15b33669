package alarm

import (
	"time"

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
	wait     *prometheus.HistogramVec
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
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: metrics.AlarmStoreWaitSeconds, Help: "Time evaluation stood still waiting for ClickHouse, by operation (events, checkpoint, readback, heartbeats, adopt, learn; refresh runs beside evaluation).",
			Buckets: []float64{.005, .025, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"op"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.AlarmWriteFailuresTotal, Help: "Failed writes of alarm events or checkpoints (retried)."}),
	}
	if reg != nil {
		reg.MustRegister(m.raised, m.cleared, m.queued, m.dropped, m.replayed, m.readBack, m.wait, m.failures)
	}
	e.metrics = m
	return m
}

func (e *Evaluator) replayedOne() {
	if e.metrics != nil {
		e.metrics.replayed.Inc()
	}
}

// waited records how long the evaluation loop stood still on op since
// start: every second of it, batches queue, and past the queue's bound
// they are read back, which is more waiting.
func (e *Evaluator) waited(op string, start time.Time) {
	if e.metrics != nil {
		e.metrics.wait.WithLabelValues(op).Observe(time.Since(start).Seconds())
	}
}

func (e *Evaluator) failed() {
	if e.metrics != nil {
		e.metrics.failures.Inc()
	}
}
