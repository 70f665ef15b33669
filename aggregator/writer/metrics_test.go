package writer_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-telemetry/lifeline/aggregator/metrics"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
)

func TestWriterMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Seq 1: one transient failure, then committed. Seq 2: refused.
		start := time.Now()
		ins := &fakeInserter{fn: func(_ context.Context, call int, b []*store.Batch) error {
			time.Sleep(50 * time.Millisecond) // an INSERT takes time
			switch {
			case b[0].Seq == 1 && call == 0:
				return errors.New("connection reset")
			case b[0].Seq == 2:
				return &store.PermanentError{Err: errors.New("bad value")}
			}
			return nil
		}}
		w := writer.New(ins, writer.Options{MaxRows: 10, MaxDelay: time.Hour, RetryBackoff: time.Millisecond}, nil)
		reg := prometheus.NewPedanticRegistry()
		writer.NewMetrics(w, reg)
		res := newResults(t)
		if err := w.Submit(context.Background(), batchOf(1, 10), res.done(1)); err != nil {
			t.Fatal(err)
		}
		if got := gather(t, reg)[metrics.WriterPendingRows]; got != 10 {
			t.Fatalf("pending rows before the insert = %v, want 10", got)
		}
		stop := runWriter(t, w)
		synctest.Wait()
		if err := w.Submit(context.Background(), batchOf(2, 10), res.done(2)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		stop()

		got := gather(t, reg)
		// Seq 1 committed on its second attempt, two INSERTs of 50 ms and a
		// 1 ms backoff after the start; seq 2's refusal does not move it.
		if last, want := got[metrics.WriterLastInsertSeconds], float64(start.Add(101*time.Millisecond).UnixNano())/1e9; math.Abs(last-want) > 1e-6 {
			t.Errorf("last insert at %v, want %v", last, want)
		}
		for name, want := range map[string]float64{
			metrics.WriterInsertsTotal:                              1,
			metrics.WriterRowsTotal:                                 10,
			metrics.WriterPendingRows:                               0,
			metrics.WriterInsertErrorsTotal + `{class="transient"}`: 1,
			metrics.WriterInsertErrorsTotal + `{class="permanent"}`: 1,
			metrics.WriterInsertErrorsTotal + `{class="stopped"}`:   0,
			metrics.WriterInsertDurationSeconds + "_count":          3,
			metrics.WriterInsertDurationSeconds + "_sum":            0.15,
		} {
			if v, ok := got[name]; !ok || math.Abs(v-want) > 1e-9 {
				t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
			}
		}
	})
}

// gather reads reg into name{label="value"} → value; histograms as _count
// and _sum.
func gather(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "{" + l.GetName() + `="` + l.GetValue() + `"}`
			}
			if h := m.GetHistogram(); h != nil {
				out[key+"_count"] = float64(h.GetSampleCount())
				out[key+"_sum"] = h.GetSampleSum()
				continue
			}
			out[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return out
}
