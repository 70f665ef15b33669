package plantsim

import (
	"context"
	"time"

	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
)

// notifyStall bounds how long one batch of notifications waits for
// subscriptions whose queues are full. A live subscription's queue fills
// while its goroutine writes a publish response to a client that reads
// slowly; 200 ms dropped a few dozen changes a minute at 100,000 changes/s
// on a busy 2-core machine (make bench), so the load waits longer and
// catches up on its schedule afterwards.
const notifyStall = 2 * time.Second

// stalledFor is how long a stalled subscription is remembered.
const stalledFor = time.Minute

// notify tells the server's subscriptions that vars changed.
//
// gopcua's own Server.ChangeNotification sends to each subscription's
// channel while holding the monitored-item lock and never gives up: once a
// subscription's publishing goroutine has died (a client that went away)
// and its queue of 100 is full, the sender blocks forever with the lock
// held, and the subscription's own cleanup then waits for that lock. This
// version takes the lock once per batch, waits at most notifyStall per
// batch for full queues, and counts what it had to drop.
//
// The sim's own subscriptions (Options.QueueValues) take the change into
// their monitored items' queues at once, never waiting: a full item queue
// discards its oldest value, counted as overflowed.
//
// A subscription whose queue stayed full for notifyStall is marked stalled
// and not waited for again until its queue has room: a subscription whose
// goroutine has ended keeps its items until gopcua has deleted them one by
// one, each under the lock, and waiting on it for every batch would hold
// the lock so long that the deletion (and every service waiting behind
// it) never finished.
func (s *Sim) notify(ctx context.Context, mis *server.MonitoredItemService, vars []*variable) {
	mis.Mu.Lock()
	defer mis.Mu.Unlock()
	if len(mis.Nodes) == 0 {
		clear(s.stalled)
		return
	}
	now := time.Now()
	for sub, since := range s.stalled {
		if now.Sub(since) > stalledFor {
			delete(s.stalled, sub) // forget it: it may be gone
		}
	}
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	var (
		timer   *time.Timer
		expired bool
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for _, v := range vars {
		items := mis.Nodes[v.key]
		if len(items) == 0 {
			continue
		}
		dv := v.current()
		for _, it := range items {
			if it == nil || it.Sub == nil || it.Req == nil || it.Req.ItemToMonitor == nil || it.Req.RequestedParameters == nil {
				continue
			}
			val := dv
			if attr := it.Req.ItemToMonitor.AttributeID; attr != ua.AttributeIDValue {
				val = s.ns.Attribute(v.id, attr)
			}
			n := &ua.MonitoredItemNotification{ClientHandle: it.Req.RequestedParameters.ClientHandle, Value: val}
			if q := s.queues[it.Sub]; q != nil {
				if q.push(n) {
					s.overflowed.Add(1)
				}
				continue
			}
			select {
			case it.Sub.NotifyChannel <- n:
				delete(s.stalled, it.Sub)
				continue
			default:
			}
			if _, stalled := s.stalled[it.Sub]; expired || stalled {
				s.dropped.Add(1)
				continue
			}
			if timer == nil {
				timer = time.NewTimer(notifyStall)
			}
			select {
			case it.Sub.NotifyChannel <- n:
			case <-timer.C:
				expired = true
				s.stalled[it.Sub] = now
				s.dropped.Add(1)
			case <-ctx.Done():
				return
			}
		}
	}
}
