package opcua

import (
	"context"
	"fmt"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// poll reads every resolved point each PollInterval (read_mode poll), for
// servers whose subscriptions cannot be relied on. A sample is delivered
// when a point's source timestamp, status or value differs from the
// previous read, so an unchanged value is not sent again. Reads go in
// chunks of the server's MaxNodesPerRead. A failed read ends the session.
func (r *Reader) poll(ctx context.Context, c *opcua.Client, info serverInfo, nodes []*ua.NodeID) (healthy bool, err error) {
	var idx []int
	for i, n := range nodes {
		if n != nil {
			idx = append(idx, i)
		}
	}
	// last holds what was delivered per point; the samples themselves
	// belong to the sink once written.
	type seen struct {
		ok       bool
		sourceNs int64
		status   uint32
		value    any
	}
	last := make([]seen, len(nodes))
	initial := make([]bool, len(nodes))
	chunk := info.readChunk()
	// reindex takes an update: the point list changes between two reads.
	reindex := func() {
		src, gen := r.takeUpdate()
		if src == nil {
			return
		}
		plan := r.adopt(*src)
		nodes = r.resolve(info.namespaces)
		for len(last) < len(nodes) {
			last, initial = append(last, seen{}), append(initial, false)
		}
		for _, h := range plan.create {
			last[h], initial[h] = seen{}, false
		}
		idx = idx[:0]
		for i, n := range nodes {
			if n != nil {
				idx = append(idx, i)
			}
		}
		r.applied.Store(gen)
		r.logger.Info("point list updated", "added", plan.added, "removed", plan.removed, "changed", plan.changed, "polled", len(idx))
	}
	t := time.NewTicker(r.src.PollInterval.D())
	defer t.Stop()
	for {
		var batch []*lifelinev1.Sample
		for start := 0; start < len(idx); start += chunk {
			part := idx[start:min(start+chunk, len(idx))]
			req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth}
			for _, i := range part {
				req.NodesToRead = append(req.NodesToRead, &ua.ReadValueID{NodeID: nodes[i], AttributeID: ua.AttributeIDValue})
			}
			cctx, cancel := context.WithTimeout(ctx, callTimeout)
			res, err := c.Read(cctx, req)
			cancel()
			received := time.Now()
			if ctx.Err() != nil {
				return healthy, nil
			}
			if err != nil {
				return healthy, fmt.Errorf("poll read of %d nodes: %w", len(part), err)
			}
			if len(res.Results) != len(part) {
				return healthy, fmt.Errorf("poll read: %d results for %d nodes", len(res.Results), len(part))
			}
			healthy = true
			r.outage.touch(received)
			for j, dv := range res.Results {
				i := part[j]
				s, _ := newSample(r.src.Points[i].ID, dv, received)
				v := sampleValue(s)
				if p := last[i]; p.ok && p.sourceNs == s.SourceTimeNs && p.status == s.Status && sameValue(p.value, v) {
					continue
				}
				if !initial[i] {
					initial[i] = true
					s.Initial = true
				}
				last[i] = seen{true, s.SourceTimeNs, s.Status, v}
				batch = append(batch, s)
			}
		}
		r.polls.Add(1)
		r.deliver(batch)
		select {
		case <-ctx.Done():
			return healthy, nil
		case <-r.updated:
			reindex()
		case <-t.C:
		}
	}
}
