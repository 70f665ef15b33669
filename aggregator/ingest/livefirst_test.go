package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
)

// A backlog that fills the writer's pending bound must not hold back a
// live batch sent after it on the same stream. ClickHouse is made slow for
// back-filled rows (a view sleeping a second per insert that holds any), so
// the backlog takes over ten seconds to go in; the live batch must be
// committed and acked within a few.
func TestLiveBatchPassesBackfillAtPendingBound(t *testing.T) {
	f := startStored(t, writer.Options{MaxRows: 500, MaxDelay: 20 * time.Millisecond, MaxPendingRows: 1000})
	f.exec(t, "CREATE MATERIALIZED VIEW slow_backfill ENGINE = Null AS SELECT sleep(1) AS s FROM samples WHERE backfill = 1")
	points := make([]string, 10)
	for i := range points {
		points[i] = fmt.Sprintf("P%d.PV", i)
	}
	st := f.open(t, "S1", points...)
	acks := replies(st)
	const backlog, size = 60, 100
	base := time.Now().Add(-2 * time.Hour)
	start := time.Now()
	sent := make(chan error, 1)
	go func() {
		k := 0
		for seq := uint64(1); seq <= backlog; seq++ {
			m := batch(seq)
			m.GetBatch().Backfill = true
			for range size {
				m.GetBatch().Samples = append(m.GetBatch().Samples, num(points[k%len(points)], base.Add(time.Duration(k)*time.Second), float64(k)))
				k++
			}
			if err := st.Send(m); err != nil {
				sent <- err
				return
			}
		}
		sent <- st.Send(batch(backlog+1, num(points[0], time.Now(), 42)))
	}()
	backfillAcked := 0
	deadline := time.After(6 * time.Second)
	for {
		select {
		case m := <-acks:
			if m.GetAck() == nil {
				t.Fatalf("got %v", m)
			}
			if m.GetAck().GetSeq() <= backlog {
				backfillAcked++
				continue
			}
			t.Logf("live batch acked after %s, with %d of %d backlog batches acked", time.Since(start).Round(time.Millisecond), backfillAcked, backlog)
			if backfillAcked == backlog {
				t.Fatal("the live batch was acked only after the whole backlog")
			}
			return
		case err := <-sent:
			if err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatalf("live batch not acked after %s (%d of %d backlog batches acked): it waits behind the backlog",
				time.Since(start).Round(time.Millisecond), backfillAcked, backlog)
		}
	}
}
