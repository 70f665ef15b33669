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

// subQueue holds the values waiting for a publish of one of the sim's
// subscriptions: each monitored item's queue (by client handle), of the
// size it asked for. The sim's notify writes into it directly, under its
// own lock, so that a subscription busy sending a large publish response
// never holds up the plant: its values wait in their queues (or overflow,
// counted) instead of in gopcua's notification channel of 100, which
// stalled the load goroutine, and with it every other subscription.
type subQueue struct {
	mu    sync.Mutex
	sizes map[uint32]uint32
	items map[uint32]*itemQueue
	order []*itemQueue // items with values, in the order they first got one
}

func newSubQueue() *subQueue {
	return &subQueue{sizes: map[uint32]uint32{}, items: map[uint32]*itemQueue{}}
}

func (q *subQueue) set(handle, size uint32) {
	q.mu.Lock()
	q.sizes[handle] = size
	q.mu.Unlock()
}

// push queues n on its item and reports whether the item's queue was full
// (its oldest value discarded).
func (q *subQueue) push(n *ua.MonitoredItemNotification) (overflowed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	iq := q.items[n.ClientHandle]
	if iq == nil {
		iq = &itemQueue{handle: n.ClientHandle}
		q.items[n.ClientHandle] = iq
	}
	if len(iq.values) == 0 {
		q.order = append(q.order, iq)
	}
	iq.values, overflowed = enqueue(iq.values, n, max(int(q.sizes[n.ClientHandle]), 1))
	return overflowed
}

// pending reports whether any value waits for a publish.
func (q *subQueue) pending() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order) > 0
}

// take removes up to limit values for one publish response and reports
// whether more wait.
func (q *subQueue) take(limit int) ([]*ua.MonitoredItemNotification, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var values []*ua.MonitoredItemNotification
	values, q.order = take(q.order, limit)
	return values, len(q.order) > 0
}

// revisedQueueSize is the queue an item gets for the size it asked for.
func revisedQueueSize(asked uint32) uint32 { return min(max(asked, 1), maxQueueSize) }

// queuesOf returns the queues of sub, nil for a subscription the sim did
// not create.
func (s *Sim) queuesOf(sub *server.Subscription) *subQueue {
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
		q := newSubQueue()
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
// sent; it then deletes the subscription if it still stands. Once a
// publishing interval finds values queued, it answers publish requests
// until none is left, limit values a response (MoreNotifications while
// more wait).
func (s *Sim) publish(ctx context.Context, ss *server.SubscriptionService, sub *server.Subscription, q *subQueue, limit int) {
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
	var seq uint32
	keepalive, lifetime := uint32(0), uint32(0)
	var requests <-chan server.PubReq // set while values wait for a publish request
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-sub.NotifyChannel: // gopcua's own senders, if any
			if q.push(n) {
				s.overflowed.Add(1)
			}
		case pr := <-requests:
			seq = max(seq+1, 1)
			values, more := q.take(limit)
			if !s.sendValues(sub, pr, seq, values, more) {
				return
			}
			if !more {
				requests = nil
			}
			keepalive, lifetime = 0, 0
		case <-t.C:
			if !stillServed(ss, sub) {
				return
			}
			if q.pending() {
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
// oldest when it is full (reported) and marking the value after it with
// the Overflow bit (never for a queue of one, Part 4 §5.12.1.5).
func enqueue(values []*ua.MonitoredItemNotification, n *ua.MonitoredItemNotification, size int) ([]*ua.MonitoredItemNotification, bool) {
	if len(values) < size {
		return append(values, n), false
	}
	copy(values, values[1:])
	values[len(values)-1] = n
	if size > 1 && values[0].Value != nil {
		v := *values[0].Value
		v.Status |= infoTypeDataValue | infoOverflow
		v.EncodingMask |= ua.DataValueStatusCode
		values[0] = &ua.MonitoredItemNotification{ClientHandle: values[0].ClientHandle, Value: &v}
	}
	return values, true
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
