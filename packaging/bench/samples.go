package bench

import (
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// plantsimPointID is the ID lifeline-plantsim gives its i-th load point
// (1-based), so samples made here pass the agent's hello catalog.
func plantsimPointID(i int) string { return fmt.Sprintf("LOAD.P%05d", i) }

// encodedBatches returns n batches of size samples each, encoded the way
// the agent's batcher writes them to its buffer: points round-robin, each
// advancing step per round from start, values a slow sine with noise
// rounded to 3 decimals like plantsim's.
func encodedBatches(n, size, points int, start time.Time, step time.Duration) ([][]byte, error) {
	out := make([][]byte, n)
	samples := make([]*lifelinev1.Sample, size)
	for j := range samples {
		samples[j] = &lifelinev1.Sample{Value: &lifelinev1.Sample_Number{}}
	}
	recv := time.Now().UnixNano()
	k := 0
	for i := range out {
		for _, s := range samples {
			p := k % points
			round := k / points
			ts := start.Add(time.Duration(round) * step).UnixNano()
			s.PointId = plantsimPointID(p + 1)
			s.SourceTimeNs, s.ServerTimeNs, s.ReceiveTimeNs = ts, ts, recv
			v := 50 + 40*math.Sin(float64(round)/600+float64(p)) + float64((k*7919)%100)/200
			s.Value.(*lifelinev1.Sample_Number).Number = math.Round(v*1000) / 1000
			k++
		}
		data, err := proto.Marshal(&lifelinev1.Batch{Samples: samples})
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}
