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
	ps := newPolled(nodes, info.readChunk())
	t := time.NewTicker(r.src.PollInterval.D())
	defer t.Stop()
	for {
		var batch []*lifelinev1.Sample
		for k, req := range ps.reqs {
			part := ps.parts[k]
			res, err := readPrepared(ctx, c, req)
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
			batch = r.changed(ps, part, res.Results, received, batch)
		}
		r.polls.Add(1)
		r.deliver(batch)
		select {
		case <-ctx.Done():
			return healthy, nil
		case <-r.updated:
			r.repoll(ps, info)
		case <-t.C:
		}
	}
}

// changed appends to batch a sample for each point of part whose read
// differs from what was last delivered of it.
func (r *Reader) changed(ps *polled, part []int, results []*ua.DataValue, received time.Time, batch []*lifelinev1.Sample) []*lifelinev1.Sample {
	for j, dv := range results {
		i := part[j]
		s, _ := newSample(r.src.Points[i].ID, dv, received)
		v := lastValueOf(s)
		if p := ps.last[i]; p.ok && p.sourceNs == s.SourceTimeNs && p.status == s.Status && p.value.same(v) {
			continue
		}
		if !ps.initial[i] {
			ps.initial[i] = true
			s.Initial = true
		}
		ps.last[i] = seen{true, s.SourceTimeNs, s.Status, v}
		batch = append(batch, s)
	}
	return batch
}

// readPrepared sends a Read request built by polled.prepare as it is.
// Client.Read would copy the request and each of its ReadValueIDs on
// every call to fill in the defaults prepare already filled in.
func readPrepared(ctx context.Context, c *opcua.Client, req *ua.ReadRequest) (*ua.ReadResponse, error) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var res *ua.ReadResponse
	err := c.Send(cctx, req, func(v ua.Response) error {
		r, ok := v.(*ua.ReadResponse)
		if !ok {
			return fmt.Errorf("read: response %T", v)
		}
		res = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	// As Client.Read: an extension object gopcua could not decode comes
	// back as a nil value under the server's Good status.
	for _, dv := range res.Results {
		if dv == nil || dv.Value == nil {
			continue
		}
		if eo, ok := dv.Value.Value().(*ua.ExtensionObject); ok && eo.Value == nil {
			dv.Status = ua.StatusBadDataTypeIDUnknown
		}
	}
	return res, nil
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
// initial value went out; and the Read requests that read them, built
// once per point list and sent again at every poll.
type polled struct {
	nodes   []*ua.NodeID
	idx     []int
	last    []seen
	initial []bool
	chunk   int
	reqs    []*ua.ReadRequest
	parts   [][]int // the handles each request reads, in order
}

func newPolled(nodes []*ua.NodeID, chunk int) *polled {
	p := &polled{nodes: nodes, last: make([]seen, len(nodes)), initial: make([]bool, len(nodes)), chunk: chunk}
	p.index()
	return p
}

// index lists the handles to read and builds their requests: at most
// chunk nodes each, the Value attribute, the server's default encoding,
// both timestamps.
func (p *polled) index() {
	p.idx = p.idx[:0]
	for i, n := range p.nodes {
		if n != nil {
			p.idx = append(p.idx, i)
		}
	}
	p.reqs, p.parts = p.reqs[:0], p.parts[:0]
	ids := make([]ua.ReadValueID, len(p.idx))
	encoding := &ua.QualifiedName{}
	for start := 0; start < len(p.idx); start += p.chunk {
		part := p.idx[start:min(start+p.chunk, len(p.idx))]
		req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth, NodesToRead: make([]*ua.ReadValueID, len(part))}
		for j, i := range part {
			id := &ids[start+j]
			*id = ua.ReadValueID{NodeID: p.nodes[i], AttributeID: ua.AttributeIDValue, DataEncoding: encoding}
			req.NodesToRead[j] = id
		}
		p.reqs, p.parts = append(p.reqs, req), append(p.parts, part)
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
