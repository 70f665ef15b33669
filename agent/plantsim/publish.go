package plantsim

import (
	"context"
	"sync"
	"time"

	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uasc"
)

// maxQueueSize bounds the queue a monitored item may ask for.
const maxQueueSize = 1000

// maxPerPublish bounds the values of one publish response (fewer if the
// client asks): ~60 bytes each, well inside a client's 2 MiB message
// limit. The rest waits for the next publish request (MoreNotifications).
const maxPerPublish = 10_000

// Info bits of a StatusCode (OPC UA Part 4 §7.39): the DataValue info
// type, and its Overflow bit, set on a value when older ones of its item
// were discarded from a full queue (Part 4 §5.12.1.5).
const (
	infoTypeDataValue = 0x0400
	infoOverflow      = 0x0080
)

// queues holds the queue size of each monitored item (by client handle)
// of one subscription.
type queues struct {
	mu    sync.Mutex
	sizes map[uint32]uint32
}

func (q *queues) set(handle, size uint32) {
	q.mu.Lock()
	q.sizes[handle] = size
	q.mu.Unlock()
}

func (q *queues) size(handle uint32) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return max(int(q.sizes[handle]), 1)
}

// revisedQueueSize is the queue an item gets for the size it asked for.
func revisedQueueSize(asked uint32) uint32 { return min(max(asked, 1), maxQueueSize) }

// queuesOf returns the queue sizes of sub, nil for a subscription the sim
// did not create.
func (s *Sim) queuesOf(sub *server.Subscription) *queues {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	return s.queues[sub]
}

// createSubscription replaces gopcua's CreateSubscription service, whose
// subscriptions keep one value per monitored item between two publishes
// whatever queue size the client asked for: on a loaded machine, where a
// publishing cycle stretches past a point's change period, changes were
// lost inside the server and looked like the collector's loss. The sim's
// subscriptions keep each item's queue at the size it asked for (up to
// maxQueueSize), discard the oldest value when it is full and set the
// Overflow bit on the next, and count what they discarded (Overflowed).
// gopcua's subscription type is kept, so its other services (delete,
// monitored items) work on these as on its own; publish runs in place of
// its publishing goroutine.
func (s *Sim) createSubscription(ctx context.Context, srv *server.Server) server.Handler {
	return func(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
		req, ok := r.(*ua.CreateSubscriptionRequest)
		if !ok {
			return nil, ua.StatusBadRequestTypeInvalid
		}
		sess := srv.Session(req.RequestHeader)
		if sess == nil {
			return nil, ua.StatusBadSessionIDInvalid
		}
		sub := server.NewSubscription()
		sub.Session = sess
		sub.Channel = sc
		sub.RevisedPublishingInterval = max(req.RequestedPublishingInterval, 10)
		sub.RevisedMaxKeepAliveCount = max(req.RequestedMaxKeepAliveCount, 1)
		sub.RevisedLifetimeCount = max(req.RequestedLifetimeCount, 3*sub.RevisedMaxKeepAliveCount)
		ss := srv.SubscriptionService
		ss.Mu.Lock()
		// Not gopcua's len+1, which can take the number of a live one.
		s.lastSubID++
		for ss.Subs[s.lastSubID] != nil || s.lastSubID == 0 {
			s.lastSubID++
		}
		sub.ID = s.lastSubID
		ss.Subs[sub.ID] = sub
		ss.Mu.Unlock()
		q := &queues{sizes: map[uint32]uint32{}}
		s.pubMu.Lock()
		s.queues[sub] = q
		s.pubMu.Unlock()
		limit := maxPerPublish
		if n := int(req.MaxNotificationsPerPublish); n > 0 {
			limit = min(n, limit)
		}
		s.pubWG.Add(1)
		go func() {
			defer s.pubWG.Done()
			s.publish(ctx, ss, sub, q, limit)
		}()
		return &ua.CreateSubscriptionResponse{
			ResponseHeader:            responseHeader(req.RequestHeader),
			SubscriptionID:            sub.ID,
			RevisedPublishingInterval: sub.RevisedPublishingInterval,
			RevisedLifetimeCount:      sub.RevisedLifetimeCount,
			RevisedMaxKeepAliveCount:  sub.RevisedMaxKeepAliveCount,
		}, nil
	}
}

func responseHeader(req *ua.RequestHeader) *ua.ResponseHeader {
	return &ua.ResponseHeader{
		Timestamp:          time.Now(),
		RequestHandle:      req.RequestHandle,
		ServiceResult:      ua.StatusOK,
		ServiceDiagnostics: &ua.DiagnosticInfo{},
		StringTable:        []string{},
		AdditionalHeader:   ua.NewExtensionObject(nil),
	}
}

// itemQueue is the values of one monitored item waiting for a publish.
type itemQueue struct {
	handle uint32
	values []*ua.MonitoredItemNotification
}

// publish serves sub until ctx ends, the subscription is deleted, its
// lifetime runs out without a publish request, or a response cannot be
// sent; it then deletes the subscription if it still stands.
func (s *Sim) publish(ctx context.Context, ss *server.SubscriptionService, sub *server.Subscription, q *queues, limit int) {
	defer func() {
		s.pubMu.Lock()
		delete(s.queues, sub)
		s.pubMu.Unlock()
		if stillServed(ss, sub) {
			ss.DeleteSubscription(sub.ID)
		}
	}()
	t := time.NewTicker(time.Duration(sub.RevisedPublishingInterval * float64(time.Millisecond)))
	defer t.Stop()
	items := map[uint32]*itemQueue{}
	var order []*itemQueue // items with values, in the order they first got one
	var seq uint32
	keepalive, lifetime := uint32(0), uint32(0)
	var requests <-chan server.PubReq // set while values wait for a publish request
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-sub.NotifyChannel:
			iq := items[n.ClientHandle]
			if iq == nil {
				iq = &itemQueue{handle: n.ClientHandle}
				items[n.ClientHandle] = iq
			}
			if len(iq.values) == 0 {
				order = append(order, iq)
			}
			iq.values = s.enqueue(iq.values, n, q.size(n.ClientHandle))
		case pr := <-requests:
			seq = max(seq+1, 1)
			var values []*ua.MonitoredItemNotification
			values, order = take(order, limit)
			if !s.sendValues(sub, pr, seq, values, len(order) > 0) {
				return
			}
			if len(order) == 0 {
				requests = nil
			}
			keepalive, lifetime = 0, 0
		case <-t.C:
			if !stillServed(ss, sub) {
				return
			}
			if len(order) > 0 {
				if requests != nil {
					lifetime++
				}
				requests = sub.Session.PublishRequests
			} else if keepalive++; keepalive > sub.RevisedMaxKeepAliveCount {
				keepalive = 0
				select {
				case pr := <-sub.Session.PublishRequests:
					if !s.sendValues(sub, pr, seq+1, nil, false) {
						return
					}
					lifetime = 0
					continue
				default:
					lifetime++
				}
			}
			if lifetime > sub.RevisedLifetimeCount {
				s.log.Warn("subscription timed out without publish requests", "subscription", sub.ID)
				return
			}
		}
	}
}

// enqueue adds n to an item's queue of size values, discarding the
// oldest when it is full and marking the value after it with the
// Overflow bit (never for a queue of one, Part 4 §5.12.1.5).
func (s *Sim) enqueue(values []*ua.MonitoredItemNotification, n *ua.MonitoredItemNotification, size int) []*ua.MonitoredItemNotification {
	if len(values) < size {
		return append(values, n)
	}
	s.overflowed.Add(1)
	copy(values, values[1:])
	values[len(values)-1] = n
	if size > 1 && values[0].Value != nil {
		v := *values[0].Value
		v.Status |= infoTypeDataValue | infoOverflow
		v.EncodingMask |= ua.DataValueStatusCode
		values[0] = &ua.MonitoredItemNotification{ClientHandle: values[0].ClientHandle, Value: &v}
	}
	return values
}

// take removes up to limit queued values from the items of order, oldest
// items first and each item's values in order, and returns them with the
// items that still hold values.
func take(order []*itemQueue, limit int) ([]*ua.MonitoredItemNotification, []*itemQueue) {
	var out []*ua.MonitoredItemNotification
	done := 0
	for _, iq := range order {
		n := min(len(iq.values), limit-len(out))
		out = append(out, iq.values[:n]...)
		rest := copy(iq.values, iq.values[n:])
		clear(iq.values[rest:])
		iq.values = iq.values[:rest]
		if rest > 0 {
			break
		}
		done++
	}
	left := copy(order, order[done:])
	clear(order[left:])
	return out, order[:left]
}

// sendValues answers a publish request with values (none: a keep-alive,
// which carries the next sequence number) and reports whether it could.
func (s *Sim) sendValues(sub *server.Subscription, pr server.PubReq, seq uint32, values []*ua.MonitoredItemNotification, more bool) bool {
	msg := &ua.NotificationMessage{SequenceNumber: seq, PublishTime: time.Now(), NotificationData: []*ua.ExtensionObject{}}
	if len(values) > 0 {
		eo := ua.NewExtensionObject(&ua.DataChangeNotification{MonitoredItems: values, DiagnosticInfos: []*ua.DiagnosticInfo{}})
		eo.UpdateMask()
		msg.NotificationData = []*ua.ExtensionObject{eo}
	}
	resp := &ua.PublishResponse{
		ResponseHeader:           responseHeader(pr.Req.RequestHeader),
		SubscriptionID:           sub.ID,
		MoreNotifications:        more,
		NotificationMessage:      msg,
		AvailableSequenceNumbers: []uint32{}, // no retransmission
		Results:                  []ua.StatusCode{},
		DiagnosticInfos:          []*ua.DiagnosticInfo{},
	}
	if err := sub.Channel.SendResponseWithContext(context.Background(), pr.ID, resp); err != nil {
		s.log.Warn("publish response not sent; subscription ends", "subscription", sub.ID, "err", err)
		return false
	}
	return true
}

// stillServed reports whether sub is still the server's subscription of
// its number (not deleted by its client or by the sim).
func stillServed(ss *server.SubscriptionService, sub *server.Subscription) bool {
	ss.Mu.Lock()
	defer ss.Mu.Unlock()
	return ss.Subs[sub.ID] == sub
}

// Overflowed returns how many values the sim's subscriptions discarded
// from full monitored-item queues: changes the plant made that no client
// could read, the simulator's own loss.
func (s *Sim) Overflowed() uint64 { return s.overflowed.Load() }
