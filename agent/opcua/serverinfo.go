package opcua

import (
	"context"
	"errors"
	"fmt"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
)

// defaultChunk is how many nodes go into one Read or CreateMonitoredItems
// call when the server states no smaller limit.
const defaultChunk = 1000

// serverInfo is what the reader learns from the server right after
// connecting: the namespace array and the operation limits that bound how
// many nodes fit in one call.
type serverInfo struct {
	namespaces         []string
	maxNodesPerRead    int // 0: not stated
	maxItemsPerMonitor int // 0: not stated
	// maxItemsPerSubscription is MaxMonitoredItemsPerSubscription (0: not
	// stated); more points are spread over several subscriptions.
	maxItemsPerSubscription int
}

// readChunk is how many nodes one Read call may carry.
func (s serverInfo) readChunk() int { return chunkSize(s.maxNodesPerRead) }

// monitorChunk is how many items one CreateMonitoredItems call may carry.
func (s serverInfo) monitorChunk() int { return chunkSize(s.maxItemsPerMonitor) }

func chunkSize(limit int) int {
	if limit > 0 && limit < defaultChunk {
		return limit
	}
	return defaultChunk
}

// readServerInfo reads the namespace array (ns=0;i=2255), the server's
// operation limits and its MaxMonitoredItemsPerSubscription (i=24104, new
// in OPC UA 1.05; older servers answer BadNodeIdUnknown) in one Read, or
// one by one if the server allows fewer nodes per Read. The namespace array
// is required; a limit the server does not expose is left at 0.
func readServerInfo(ctx context.Context, c *opcua.Client) (serverInfo, error) {
	nodes := []uint32{
		id.Server_NamespaceArray,
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead,
		id.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall,
		id.Server_ServerCapabilities_MaxMonitoredItemsPerSubscription,
	}
	results, err := readEach(ctx, c, nodes)
	if err != nil {
		return serverInfo{}, fmt.Errorf("read namespace array: %w", err)
	}
	var info serverInfo
	nsv := results[0]
	if nsv.Status != ua.StatusOK {
		return serverInfo{}, fmt.Errorf("read namespace array: %w", nsv.Status)
	}
	if nsv.Value != nil {
		info.namespaces, _ = nsv.Value.Value().([]string)
	}
	if len(info.namespaces) == 0 {
		return serverInfo{}, fmt.Errorf("read namespace array: server returned %T, want a non-empty string array", valueOf(nsv))
	}
	info.maxNodesPerRead = limitValue(results[1])
	info.maxItemsPerMonitor = limitValue(results[2])
	info.maxItemsPerSubscription = limitValue(results[3])
	return info, nil
}

// readEach reads the Value of nodes of namespace 0 in one Read, or one at
// a time when the server refuses that many at once: a server whose
// MaxNodesPerRead is below len(nodes) would otherwise never let a session
// start.
func readEach(ctx context.Context, c *opcua.Client, nodes []uint32) ([]*ua.DataValue, error) {
	read := func(ids []uint32) ([]*ua.DataValue, error) {
		req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnNeither}
		for _, n := range ids {
			req.NodesToRead = append(req.NodesToRead, &ua.ReadValueID{
				NodeID:      ua.NewNumericNodeID(0, n),
				AttributeID: ua.AttributeIDValue,
			})
		}
		res, err := c.Read(ctx, req)
		if err != nil {
			return nil, err
		}
		if len(res.Results) != len(ids) {
			return nil, fmt.Errorf("got %d results for %d nodes", len(res.Results), len(ids))
		}
		return res.Results, nil
	}
	results, err := read(nodes)
	if !errors.Is(err, ua.StatusBadTooManyOperations) {
		return results, err
	}
	results = results[:0]
	for _, n := range nodes {
		one, err := read([]uint32{n})
		if err != nil {
			return nil, err
		}
		results = append(results, one[0])
	}
	return results, nil
}

func valueOf(dv *ua.DataValue) any {
	if dv == nil || dv.Value == nil {
		return nil
	}
	return dv.Value.Value()
}

// limitValue reads an operation limit (UInt32; 0 means no limit).
func limitValue(dv *ua.DataValue) int {
	if dv == nil || dv.Status != ua.StatusOK {
		return 0
	}
	switch v := valueOf(dv).(type) {
	case uint32:
		return int(v)
	case uint16:
		return int(v)
	case int32:
		if v > 0 {
			return int(v)
		}
	}
	return 0
}
