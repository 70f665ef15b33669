package writer

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-telemetry/lifeline/aggregator/metrics"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// Metrics are the writer's Prometheus metrics.
type Metrics struct {
	inserts  prometheus.Counter
	rows     prometheus.Counter
	errors   *prometheus.CounterVec
	pending  prometheus.GaugeFunc
	duration prometheus.Histogram
	// queueWait and turnWait split a batch's time in the writer around
	// its insert: queued until its insert started, and from the insert's
	// end until its outcome was told (after every earlier insert's).
	queueWait prometheus.Histogram
	turnWait  prometheus.Histogram
	// lastInsert is when an INSERT last committed: with pending rows, an
	// old time means ClickHouse has stopped taking them.
	lastInsert prometheus.Gauge
}

// Classes of failed inserts, the values of the class label.
const (
	classTransient = "transient" // retried
	classPermanent = "permanent" // the batch is refused
	classStopped   = "stopped"   // the writer stopped during the insert
)

// NewMetrics creates the metrics of w and registers them with reg (which
// may be nil). Call it before w.Run.
func NewMetrics(w *Writer, reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		inserts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.WriterInsertsTotal, Help: "INSERTs into ClickHouse that committed."}),
		rows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metrics.WriterRowsTotal, Help: "Sample rows in INSERTs that committed."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.WriterInsertErrorsTotal, Help: "Failed INSERT attempts, by class (transient: retried; permanent: the batch is refused; stopped: the writer stopped)."},
			[]string{"class"}),
		pending: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: metrics.WriterPendingRows, Help: "Sample rows queued or being inserted (Submit blocks at writer.max_pending_rows)."},
			func() float64 { return float64(w.pendingRows()) }),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: metrics.WriterInsertDurationSeconds, Help: "Time of each INSERT attempt, successful or not.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		lastInsert: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metrics.WriterLastInsertSeconds, Help: "When an INSERT last committed (Unix seconds; 0 before the first)."}),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: metrics.WriterQueueWaitSeconds, Help: "Time each batch waited in the writer's queue before its INSERT started.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		turnWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: metrics.WriterTurnWaitSeconds, Help: "Time from the end of each INSERT until its outcome was told, after those of the INSERTs taken before it.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
	}
	// Every class from the start, so that rate() sees the first failure.
	for _, c := range []string{classTransient, classPermanent, classStopped} {
		m.errors.WithLabelValues(c)
	}
	if reg != nil {
		reg.MustRegister(m.inserts, m.rows, m.errors, m.pending, m.duration, m.lastInsert, m.queueWait, m.turnWait)
	}
	w.metrics = m
	return m
}

// attempt records one call of the Inserter.
func (m *Metrics) attempt(ctx context.Context, batches []*store.Batch, took time.Duration, err error) {
	if m == nil {
		return
	}
	m.duration.Observe(took.Seconds())
	switch {
	case err == nil:
		m.inserts.Inc()
		m.lastInsert.SetToCurrentTime()
		rows := 0
		for _, b := range batches {
			rows += len(b.Samples)
		}
		m.rows.Add(float64(rows))
	case store.IsPermanent(err):
		m.errors.WithLabelValues(classPermanent).Inc()
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		m.errors.WithLabelValues(classStopped).Inc()
	default:
		m.errors.WithLabelValues(classTransient).Inc()
	}
}

// taken records how long each batch of a group waited to be inserted.
func (m *Metrics) taken(group []pending, now time.Time) {
	if m == nil {
		return
	}
	for _, p := range group {
		m.queueWait.Observe(now.Sub(p.at).Seconds())
	}
}

// told records how long an insert's outcome waited for its turn.
func (m *Metrics) told(ended time.Time) {
	if m == nil || ended.IsZero() {
		return
	}
	m.turnWait.Observe(time.Since(ended).Seconds())
}

func (w *Writer) pendingRows() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.inFlight
}
