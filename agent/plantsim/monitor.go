package plantsim

import (
	"context"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uasc"
)

// createMonitoredItems replaces gopcua's CreateMonitoredItems service.
//
// gopcua's own takes the monitored-item lock and then, inside it, the
// subscription lock, while a subscription that ends (its client went away
// and its lifetime ran out, or a publish response could not be sent)
// deletes itself holding the subscription lock and then takes the
// monitored-item lock. When a client reconnects after a dropped connection
// and creates its items just as its old subscription expires, the two wait
// for each other forever and the server stops answering every service
// that needs either lock. This version takes the locks one at a time,
// subscription lock first, never both.
//
// It also sends each new item's initial value from one goroutine that gives
// up after notifyStall, instead of gopcua's one goroutine per item that
// waits forever; the sim's own subscriptions (Options.QueueValues) queue
// it at once, before any change of the item.
func (s *Sim) createMonitoredItems(ctx context.Context, srv *server.Server) server.Handler {
	return func(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
		req, ok := r.(*ua.CreateMonitoredItemsRequest)
		if !ok {
			return nil, ua.StatusBadRequestTypeInvalid
		}
		ss, mis := srv.SubscriptionService, srv.MonitoredItemService
		ss.Mu.Lock()
		sub, ok := ss.Subs[req.SubscriptionID]
		ss.Mu.Unlock()
		if !ok {
			return nil, ua.StatusBadSubscriptionIDInvalid
		}
		sess := srv.Session(req.RequestHeader)
		if sess == nil || sub.Session == nil || sub.Session.AuthTokenID.String() != sess.AuthTokenID.String() {
			return nil, ua.StatusBadSubscriptionIDInvalid
		}
		q := s.queuesOf(sub)
		results := make([]*ua.MonitoredItemCreateResult, len(req.ItemsToCreate))
		initial := make([]*server.MonitoredItem, 0, len(req.ItemsToCreate))
		mis.Mu.Lock()
		for i, itemReq := range req.ItemsToCreate {
			if itemReq == nil || itemReq.ItemToMonitor == nil || itemReq.ItemToMonitor.NodeID == nil || itemReq.RequestedParameters == nil {
				results[i] = &ua.MonitoredItemCreateResult{StatusCode: ua.StatusBadMonitoredItemFilterInvalid, FilterResult: ua.NewExtensionObject(nil)}
				continue
			}
			item := &server.MonitoredItem{ID: mis.NextID(), Sub: sub, Req: itemReq}
			key := itemReq.ItemToMonitor.NodeID.String()
			mis.Items[item.ID] = item
			mis.Nodes[key] = append(mis.Nodes[key], item)
			mis.Subs[sub.ID] = append(mis.Subs[sub.ID], item)
			initial = append(initial, item)
			size := uint32(1)
			if q != nil {
				size = revisedQueueSize(itemReq.RequestedParameters.QueueSize)
				q.set(itemReq.RequestedParameters.ClientHandle, size)
			}
			results[i] = &ua.MonitoredItemCreateResult{
				StatusCode:              ua.StatusOK,
				MonitoredItemID:         item.ID,
				RevisedSamplingInterval: sub.RevisedPublishingInterval,
				RevisedQueueSize:        size,
				FilterResult:            ua.NewExtensionObject(nil),
			}
		}
		if q != nil {
			// Queued before the lock is let go, so before any change
			// notify sends them: the initial value comes first.
			for _, it := range initial {
				if q.push(s.initialValue(srv, it)) {
					s.overflowed.Add(1)
				}
			}
			initial = nil
		}
		mis.Mu.Unlock()

		if len(initial) > 0 {
			s.initWG.Add(1)
			go func() {
				defer s.initWG.Done()
				s.sendInitial(ctx, srv, initial)
			}()
		}
		return &ua.CreateMonitoredItemsResponse{
			ResponseHeader: &ua.ResponseHeader{
				Timestamp:          time.Now(),
				RequestHandle:      req.RequestHeader.RequestHandle,
				ServiceResult:      ua.StatusOK,
				ServiceDiagnostics: &ua.DiagnosticInfo{},
				StringTable:        []string{},
				AdditionalHeader:   ua.NewExtensionObject(nil),
			},
			Results:         results,
			DiagnosticInfos: []*ua.DiagnosticInfo{},
		}, nil
	}
}

// sendInitial sends the current value of each new item to its
// subscription, as OPC UA requires after creation. A subscription whose
// queue stays full for notifyStall (its client is gone) gets no more.
//
// It reads and sends under the monitored-item lock, as notify does: read
// outside it, an initial value could reach the subscription after a
// change notify sent meanwhile, and gopcua's publisher keeps only the
// last value per item, so the client would be left with the stale one
// (a point set bad right after its item was created looked good).
func (s *Sim) sendInitial(ctx context.Context, srv *server.Server, items []*server.MonitoredItem) {
	mis := srv.MonitoredItemService
	mis.Mu.Lock()
	defer mis.Mu.Unlock()
	timer := time.NewTimer(notifyStall)
	defer timer.Stop()
	for _, it := range items {
		if mis.Items[it.ID] != it {
			continue // deleted meanwhile
		}
		if _, stalled := s.stalled[it.Sub]; stalled {
			s.dropped.Add(1)
			continue // not waited for, as in notify
		}
		n := s.initialValue(srv, it)
		select {
		case it.Sub.NotifyChannel <- n:
		case <-timer.C:
			s.stalled[it.Sub] = time.Now()
			s.dropped.Add(1)
			return
		case <-ctx.Done():
			return
		}
	}
}

// initialValue is the notification of a new item's current value.
func (s *Sim) initialValue(srv *server.Server, it *server.MonitoredItem) *ua.MonitoredItemNotification {
	return &ua.MonitoredItemNotification{ClientHandle: it.Req.RequestedParameters.ClientHandle, Value: s.attribute(srv, it.Req.ItemToMonitor)}
}

// attribute reads one attribute of a node for an initial value.
func (s *Sim) attribute(srv *server.Server, rv *ua.ReadValueID) *ua.DataValue {
	ns, err := srv.Namespace(int(rv.NodeID.Namespace()))
	if err != nil {
		return &ua.DataValue{EncodingMask: ua.DataValueStatusCode, Status: ua.StatusBadNodeIDUnknown}
	}
	return ns.Attribute(rv.NodeID, rv.AttributeID)
}

// registerServices installs the sim's replacements of gopcua's services;
// it must run before the server starts (gopcua keeps the first handler
// registered for a service).
func (s *Sim) registerServices(ctx context.Context, srv *server.Server) {
	srv.RegisterHandler(id.CreateMonitoredItemsRequest_Encoding_DefaultBinary, s.createMonitoredItems(ctx, srv))
	if s.opts.QueueValues {
		srv.RegisterHandler(id.CreateSubscriptionRequest_Encoding_DefaultBinary, s.createSubscription(ctx, srv))
	}
}
