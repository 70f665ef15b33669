package bench

import (
	"github.com/lifeline-telemetry/lifeline/aggregator/memwatch"
	"github.com/lifeline-telemetry/lifeline/aggregator/metrics"
	"github.com/lifeline-telemetry/lifeline/packaging/launch"
	"github.com/lifeline-telemetry/lifeline/proto/obs/scrape"
)

// writerStats is what the aggregator's writer metrics say about a run:
// the means of where a batch's time went between the two scrapes.
type writerStats struct {
	inserts       float64
	rowsPerInsert float64
	queueWait     float64 // s, from Submit to its insert's start
	insertTime    float64 // s, one INSERT attempt
	turnWait      float64 // s, from the insert's end to its outcome told
}

// scrapeWriter reads the aggregator's metrics; nil when they cannot be
// read (the breakdown is then left out, the run still counts).
func scrapeWriter(agg *aggregatorProc) scrape.Values {
	m, err := launch.Scrape(agg.metrics)
	if err != nil {
		return nil
	}
	return m
}

// writerBetween is the writer's work between two scrapes.
func writerBetween(before, after scrape.Values) (writerStats, bool) {
	if before == nil || after == nil {
		return writerStats{}, false
	}
	d := func(name string) float64 { return after[name] - before[name] }
	mean := func(name string) float64 {
		if n := d(name + "_count"); n > 0 {
			return d(name+"_sum") / n
		}
		return 0
	}
	s := writerStats{
		inserts:    d(metrics.WriterInsertsTotal),
		queueWait:  mean(metrics.WriterQueueWaitSeconds),
		insertTime: mean(metrics.WriterInsertDurationSeconds),
		turnWait:   mean(metrics.WriterTurnWaitSeconds),
	}
	if s.inserts > 0 {
		s.rowsPerInsert = d(metrics.WriterRowsTotal) / s.inserts
	}
	return s, s.inserts > 0
}

// addWriterRows adds the breakdown of a run's ack latency, prefixed p.
func addWriterRows(sec *Section, p string, s writerStats, ackMean float64) {
	sec.add(Row{Measure: p + "writer queue wait (mean, submit to insert start)", Value: s.queueWait * 1000, Unit: "ms"})
	sec.add(Row{Measure: p + "insert duration (mean)", Value: s.insertTime * 1000, Unit: "ms"})
	sec.add(Row{Measure: p + "wait for earlier inserts' acks (mean)", Value: s.turnWait * 1000, Unit: "ms"})
	sec.add(Row{Measure: p + "rest of the ack path (ack latency mean less the above)",
		Value: ackMean - 1000*(s.queueWait+s.insertTime+s.turnWait), Unit: "ms"})
	sec.add(Row{Measure: p + "rows per insert (mean)", Value: s.rowsPerInsert, Unit: "rows"})
}

// addGCRow adds what collecting garbage cost the aggregator between two
// scrapes, prefixed p: its share of the aggregator's CPU and the live heap
// against the memory limit (aggregator/memwatch), nothing when the
// scrapes lack them.
func addGCRow(sec *Section, p string, before, after scrape.Values) {
	prev, ok1 := memwatch.FromMetrics(before)
	cur, ok2 := memwatch.FromMetrics(after)
	if !ok1 || !ok2 {
		return
	}
	gc, ok := memwatch.Between(prev, cur)
	if !ok {
		return
	}
	sec.add(Row{Measure: p + "aggregator garbage collection, share of its CPU", Value: 100 * gc.GCShare, Unit: "%"})
	sec.add(Row{Measure: p + "aggregator live heap (last collection)", Value: gc.LiveBytes / (1 << 20), Unit: "MiB"})
}
