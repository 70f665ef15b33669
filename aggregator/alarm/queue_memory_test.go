package alarm_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/alarm"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// maxQueueHeap is what the evaluator's queue may keep alive with the
// default options while Run falls behind: the queue holds committed
// batches' decoded samples, which the aggregator must not keep by the
// million (make bench, 100 agents: 1,000,000 queued samples were ~700 MB
// of RSS, more than half of it).
const maxQueueHeap = 64 << 20

// The queue's default bound keeps the memory of a lagging evaluator
// small: batches beyond it are dropped and read back from ClickHouse.
func TestQueueMemoryBounded(t *testing.T) {
	ev := alarm.New(nil, alarm.DefaultOptions(), nil)
	before := heapInUse()
	const batches, perBatch = 600, 2000 // 1.2 million samples committed, none evaluated
	for seq := range uint64(batches) {
		ev.Committed([]*store.Batch{decodedBatch(seq+1, perBatch)})
	}
	held := heapInUse() - before
	t.Logf("queue holds %d MiB after %d samples committed", held>>20, batches*perBatch)
	if held > maxQueueHeap {
		t.Errorf("a lagging evaluator's queue holds %d MiB, want at most %d", held>>20, maxQueueHeap>>20)
	}
	runtime.KeepAlive(ev)
}

// decodedBatch is a batch as ingest hands it over: samples decoded one
// message each, point IDs their own strings.
func decodedBatch(seq uint64, n int) *store.Batch {
	b := &store.Batch{SiteID: "site", BufferID: "buf", Seq: seq, Samples: make([]*lifelinev1.Sample, n)}
	for i := range b.Samples {
		b.Samples[i] = &lifelinev1.Sample{PointId: fmt.Sprintf("RAW/p%05d", i), SourceTimeNs: int64(seq)*1e9 + int64(i),
			ReceiveTimeNs: int64(seq) * 1e9, Value: &lifelinev1.Sample_Number{Number: float64(i)}}
	}
	return b
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
