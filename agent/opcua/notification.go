package opcua

import (
	"fmt"
	"time"

	"github.com/gopcua/opcua/ua"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// samples turns one notification message into samples, in the server's
// order. A status change notification (the server ending the
// subscription) is returned as an error after the data before it.
func (s *subscriptions) samples(sub *subscription, msg *ua.NotificationMessage, received time.Time) ([]*lifelinev1.Sample, error) {
	var batch []*lifelinev1.Sample
	for _, eo := range msg.NotificationData {
		if eo == nil {
			continue
		}
		switch n := eo.Value.(type) {
		case *ua.DataChangeNotification:
			if batch == nil {
				batch = make([]*lifelinev1.Sample, 0, len(n.MonitoredItems))
			}
			for _, item := range n.MonitoredItems {
				if item == nil {
					continue
				}
				h := int(item.ClientHandle)
				if h >= len(s.monitored) || !(s.monitored[h] || s.retired[h]) {
					continue // not an item of ours
				}
				sample, from := newSample(s.r.src.Points[h].ID, item.Value, received)
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
			}
		case *ua.StatusChangeNotification:
			return batch, fmt.Errorf("subscription %d ended by the server: %w", sub.id, n.Status)
		}
	}
	return batch, nil
}
