package plantsim

import "sort"

// MonitoredItem is one monitored item the server holds for a client.
type MonitoredItem struct {
	ID             uint32
	SubscriptionID uint32
	// Node is the item's node ID as the client asked for it, with the
	// namespace index (e.g. ns=1;s=Load.P00001).
	Node string
}

// MonitoredItems lists the monitored items the server holds, by item ID:
// what a test compares to tell items kept from items created again.
func (s *Sim) MonitoredItems() []MonitoredItem {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil || srv.MonitoredItemService == nil {
		return nil
	}
	mis := srv.MonitoredItemService
	mis.Mu.Lock()
	out := make([]MonitoredItem, 0, len(mis.Items))
	for id, it := range mis.Items {
		m := MonitoredItem{ID: id}
		if it.Sub != nil {
			m.SubscriptionID = it.Sub.ID
		}
		if it.Req != nil && it.Req.ItemToMonitor != nil && it.Req.ItemToMonitor.NodeID != nil {
			m.Node = it.Req.ItemToMonitor.NodeID.String()
		}
		out = append(out, m)
	}
	mis.Mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
