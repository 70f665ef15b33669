package opcua

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gopcua/opcua/ua"
)

// update takes a pending Update and applies it to the live subscriptions:
// items of removed points (and of points whose node changed) are deleted,
// items whose parameters changed are modified, items of new points are
// created, in subscriptions with room or, when there is none, in a new
// one, which it returns so that run sends publish requests for it. Items
// of unchanged points are not touched. An error ends the session; the next
// one subscribes the new point list from scratch.
func (s *subscriptions) update(ctx context.Context) ([]*subscription, error) {
	src, gen := s.r.takeUpdate()
	if src == nil {
		return nil, nil
	}
	plan := s.r.adopt(*src)
	if plan.empty() {
		s.r.applied.Store(gen)
		return nil, nil
	}
	s.grow(len(s.r.src.Points))
	// The heartbeat's liveness check reads the old slice.
	s.nodes = slices.Clone(s.nodes)
	for len(s.nodes) < len(s.r.src.Points) {
		s.nodes = append(s.nodes, nil)
	}
	create := plan.create
	replace, err := s.modify(ctx, plan.modify)
	if err != nil {
		return nil, err
	}
	if err := s.deleteItems(ctx, append(plan.remove, replace...)); err != nil {
		return nil, err
	}
	create = append(create, replace...)
	added, err := s.createItems(ctx, create)
	if err != nil {
		return added, err
	}
	s.recount()
	if s.live != nil {
		s.live.Store(newLiveCheck(s, s.nodes))
	}
	s.r.applied.Store(gen)
	s.r.logger.Info("point list updated on the live subscription",
		"added", plan.added, "removed", plan.removed, "changed", plan.changed,
		"items_created", len(create), "items_deleted", len(plan.remove)+len(replace), "items_modified", len(plan.modify)-len(replace),
		"monitored", s.monitoredCount(), "subscriptions", len(s.subs))
	return added, nil
}

// bySubscription groups the monitored handles by their subscription.
func (s *subscriptions) bySubscription(handles []int) map[*subscription][]int {
	out := map[*subscription][]int{}
	for _, h := range handles {
		if s.monitored[h] && s.subOf[h] != nil {
			out[s.subOf[h]] = append(out[s.subOf[h]], h)
		}
	}
	return out
}

// deleteItems deletes the monitored items of handles. Values the server
// sent before are still delivered (retired).
func (s *subscriptions) deleteItems(ctx context.Context, handles []int) error {
	for sub, hs := range s.bySubscription(handles) {
		ids := make([]uint32, len(hs))
		for i, h := range hs {
			ids[i] = s.itemID[h]
		}
		var res *ua.DeleteMonitoredItemsResponse
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := s.c.Send(cctx, &ua.DeleteMonitoredItemsRequest{SubscriptionID: sub.id, MonitoredItemIDs: ids}, assign(&res))
		cancel()
		if err != nil {
			return fmt.Errorf("delete %d monitored items: %w", len(ids), err)
		}
		for _, h := range hs {
			// Whatever the item's result, it is no longer ours: an ID the
			// server does not know is an item already gone.
			s.monitored[h], s.retired[h], s.subOf[h] = false, true, nil
			sub.items--
			s.r.itemsDeleted.Add(1)
		}
	}
	return nil
}

// modify asks the server to change the parameters of the items of
// handles. It returns the handles whose items must be replaced instead:
// the server cannot modify items (gopcua's server answers
// BadServiceUnsupported) or refused this one.
func (s *subscriptions) modify(ctx context.Context, handles []int) (replace []int, err error) {
	for sub, hs := range s.bySubscription(handles) {
		req := &ua.ModifyMonitoredItemsRequest{SubscriptionID: sub.id, TimestampsToReturn: ua.TimestampsToReturnBoth}
		for _, h := range hs {
			req.ItemsToModify = append(req.ItemsToModify, &ua.MonitoredItemModifyRequest{
				MonitoredItemID: s.itemID[h], RequestedParameters: monitoringParameters(s.r.src, h),
			})
		}
		var res *ua.ModifyMonitoredItemsResponse
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := s.c.Send(cctx, req, assign(&res))
		cancel()
		if errors.Is(err, ua.StatusBadServiceUnsupported) {
			replace = append(replace, hs...)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("modify %d monitored items: %w", len(hs), err)
		}
		if len(res.Results) != len(hs) {
			return nil, fmt.Errorf("modify monitored items: got %d results for %d items", len(res.Results), len(hs))
		}
		for i, h := range hs {
			result := res.Results[i]
			if result == nil || isBad(result.StatusCode) {
				replace = append(replace, h)
				continue
			}
			s.r.itemsModified.Add(1)
			if d := time.Duration(result.RevisedSamplingInterval * float64(time.Millisecond)); d > 0 {
				s.sampling[h] = d
			}
		}
	}
	return replace, nil
}

// createItems resolves the nodes of handles and creates their items: in
// the existing subscriptions while the server's per-subscription limit
// leaves room, then in new subscriptions, which it returns.
func (s *subscriptions) createItems(ctx context.Context, handles []int) (added []*subscription, err error) {
	var items []*ua.MonitoredItemCreateRequest
	for _, h := range handles {
		id, err := ParseNodeID(s.r.src.Points[h].Node, s.info.namespaces)
		s.nodes[h] = id
		if err != nil {
			s.r.problem(h, "point not resolved; it is not read", "err", err)
			continue
		}
		items = append(items, &ua.MonitoredItemCreateRequest{
			ItemToMonitor:       &ua.ReadValueID{NodeID: id, AttributeID: ua.AttributeIDValue, DataEncoding: &ua.QualifiedName{}},
			MonitoringMode:      ua.MonitoringModeReporting,
			RequestedParameters: monitoringParameters(s.r.src, h),
		})
	}
	limit := s.info.maxItemsPerSubscription
	for _, sub := range s.subs {
		if len(items) == 0 {
			break
		}
		n := len(items)
		if limit > 0 {
			n = min(n, max(limit-sub.items, 0))
		}
		if n == 0 {
			continue
		}
		if _, err := s.monitor(ctx, sub, s.info.monitorChunk(), items[:n]); err != nil {
			return added, err
		}
		items = items[n:]
	}
	for len(items) > 0 {
		n := len(items)
		if limit > 0 {
			n = min(n, limit)
		}
		sub, err := s.create(ctx, s.params)
		if err != nil {
			return added, err
		}
		added = append(added, sub)
		if _, err := s.monitor(ctx, sub, s.info.monitorChunk(), items[:n]); err != nil {
			return added, err
		}
		items = items[n:]
	}
	return added, nil
}

// recount sets the reader's counts of unresolved, refused and monitored
// points after an update.
func (s *subscriptions) recount() {
	var unresolved, refused int64
	for h := range s.monitored {
		switch {
		case s.r.gone[h]:
		case s.nodes[h] == nil:
			unresolved++
		case !s.monitored[h]:
			refused++
		}
	}
	s.r.unresolved.Store(unresolved)
	s.r.badItems.Store(refused)
	s.r.monitoredNow.Store(int64(s.monitoredCount()))
}
