package opcua

import (
	"fmt"
	"time"

	"github.com/gopcua/opcua/ua"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// samples turns one notification message into samples, in the server's
// order, with each sample's client handle (its point's index) beside it.
// A status change notification (the server ending the subscription) is
// returned as an error after the data before it.
func (s *subscriptions) samples(sub *subscription, msg *ua.NotificationMessage, received time.Time) ([]*lifelinev1.Sample, []int32, error) {
	var batch []*lifelinev1.Sample
	var handles []int32
	for _, eo := range msg.NotificationData {
		if eo == nil {
			continue
		}
		switch n := eo.Value.(type) {
		case *ua.DataChangeNotification:
			if batch == nil {
				batch = make([]*lifelinev1.Sample, 0, len(n.MonitoredItems))
				handles = make([]int32, 0, len(n.MonitoredItems))
			}
			slab := newSampleSlab(len(n.MonitoredItems))
			for _, item := range n.MonitoredItems {
				if item == nil {
					continue
				}
				h := int(item.ClientHandle)
				if h >= len(s.monitored) || !(s.monitored[h] || s.retired[h]) {
					continue // not an item of ours
				}
				sample, num := slab.next()
				from := fillSample(sample, num, s.r.src.Points[h].ID, item.Value, received)
				if !s.delivered[h] {
					s.delivered[h] = true
					sample.Initial = true
				}
				if from != fromSource {
					s.r.fallbacks.Add(1)
					if !s.r.fellBack[h] {
						s.r.fellBack[h] = true
						using := "server timestamp"
						if from == fromReceive {
							using = "receive time"
						}
						s.r.logger.Info("point has no source timestamp; using another time", "point", s.r.src.Points[h].ID, "using", using)
					}
				}
				batch = append(batch, sample)
				handles = append(handles, int32(h))
			}
		case *ua.StatusChangeNotification:
			return batch, handles, fmt.Errorf("subscription %d ended by the server: %w", sub.id, n.Status)
		}
	}
	return batch, handles, nil
}

// sampleSlab allocates the samples of one notification together, each
// with room for a number value: two allocations a sample, 100,000 samples
// a second, were much of the agent's garbage. A slab lives until the last
// of its samples is stored, which is about as long as each would have
// lived alone: a notification's samples go to the buffer together.
type sampleSlab []slabSample

type slabSample struct {
	s   lifelinev1.Sample
	num lifelinev1.Sample_Number
}

func newSampleSlab(n int) sampleSlab { return make(sampleSlab, 0, n) }

// next returns a zero sample and a number value to put in it.
func (sl *sampleSlab) next() (*lifelinev1.Sample, *lifelinev1.Sample_Number) {
	if len(*sl) == cap(*sl) {
		*sl = make(sampleSlab, 0, max(cap(*sl), 1))
	}
	*sl = (*sl)[:len(*sl)+1]
	e := &(*sl)[len(*sl)-1]
	return &e.s, &e.num
}
