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
	ps := newPolled(nodes)
	idx, last, initial := ps.idx, ps.last, ps.initial
	chunk := info.readChunk()
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
				v := lastValueOf(s)
				if p := last[i]; p.ok && p.sourceNs == s.SourceTimeNs && p.status == s.Status && p.value.same(v) {
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
			r.repoll(ps, info)
			nodes, idx, last, initial = ps.nodes, ps.idx, ps.last, ps.initial
		case <-t.C:
		}
	}
}

// seen is what was last delivered of a polled point; the samples
// themselves belong to the sink once written. The value is held unboxed:
// boxing a float64 in an interface allocated once per point and poll.
type seen struct {
	ok       bool
	sourceNs int64
	status   uint32
	value    value
}

// polled are the points a poll loop reads: the resolved nodes by handle,
// the handles to read, what was last delivered of each and whether its
// initial value went out.
type polled struct {
	nodes   []*ua.NodeID
	idx     []int
	last    []seen
	initial []bool
}

func newPolled(nodes []*ua.NodeID) *polled {
	p := &polled{nodes: nodes, last: make([]seen, len(nodes)), initial: make([]bool, len(nodes))}
	p.index()
	return p
}

func (p *polled) index() {
	p.idx = p.idx[:0]
	for i, n := range p.nodes {
		if n != nil {
			p.idx = append(p.idx, i)
		}
	}
}

// repoll takes a pending update between two reads.
func (r *Reader) repoll(p *polled, info serverInfo) {
	src, gen := r.takeUpdate()
	if src == nil {
		return
	}
	plan := r.adopt(*src)
	p.nodes = r.resolve(info.namespaces)
	for len(p.last) < len(p.nodes) {
		p.last, p.initial = append(p.last, seen{}), append(p.initial, false)
	}
	for _, h := range plan.create {
		p.last[h], p.initial[h] = seen{}, false
	}
	p.index()
	r.applied.Store(gen)
	r.logger.Info("point list updated", "added", plan.added, "removed", plan.removed, "changed", plan.changed, "polled", len(p.idx))
}
