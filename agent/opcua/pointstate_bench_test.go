package opcua

import (
	"fmt"
	"sync"
	"testing"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// BenchmarkPointStateUpdate: the cost per sample of keeping every point's
// last value, which the status page and the frozen-value check read. It
// runs on the notification goroutine for every sample the agent reads
// (100,000 points, batches of 1,000). "with-page" reads 500 points'
// states every millisecond beside it, a thousand times what a status page
// polling every 2 s asks.
func BenchmarkPointStateUpdate(b *testing.B) {
	const points, batch = 100_000, 1000
	ids := make([]string, points)
	for i := range ids {
		ids[i] = fmt.Sprintf("L%06d", i)
	}
	batches := make([][]*lifelinev1.Sample, points/batch)
	now := time.Now().UnixNano()
	for i := range batches {
		for j := range batch {
			batches[i] = append(batches[i], &lifelinev1.Sample{PointId: ids[i*batch+j], SourceTimeNs: now, ReceiveTimeNs: now,
				Value: &lifelinev1.Sample_Number{Number: float64(j)}})
		}
	}
	shown := make([]string, 500)
	for i := range shown {
		shown[i] = ids[i*(points/len(shown))]
	}
	for _, withPage := range []bool{false, true} {
		name := "alone"
		if withPage {
			name = "with-page"
		}
		b.Run(name, func(b *testing.B) {
			r := &Reader{states: newPointStates(ids)}
			stop, done := make(chan struct{}), sync.WaitGroup{}
			if withPage {
				done.Go(func() {
					t := time.NewTicker(time.Millisecond)
					defer t.Stop()
					for {
						select {
						case <-stop:
							return
						case <-t.C:
							r.PointStatesOf(shown)
						}
					}
				})
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				bt := batches[i%len(batches)]
				for _, s := range bt {
					s.ReceiveTimeNs++
					s.Value.(*lifelinev1.Sample_Number).Number++
				}
				r.states.update(bt)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/sample")
			close(stop)
			done.Wait()
		})
	}
}

// BenchmarkPointStatesOf: one poll's read of 500 points' states.
func BenchmarkPointStatesOf(b *testing.B) {
	ids := make([]string, 100_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("L%06d", i)
	}
	r := &Reader{states: newPointStates(ids)}
	shown := make([]string, 500)
	for i := range shown {
		shown[i] = ids[i*200]
	}
	for b.Loop() {
		r.PointStatesOf(shown)
	}
}
