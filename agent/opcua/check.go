package opcua

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// PointReport is what Check found for one point.
type PointReport struct {
	PointID string
	// Node is the node as configured; Resolved is it with the namespace
	// index the server has now (e.g. "ns=2;s=T101.LT"), empty if it could
	// not be resolved.
	Node     string
	Resolved string
	// Status is the read's status code by name ("Good", "BadNodeIdUnknown"…),
	// empty if the node was not read.
	Status string
	// Value is the value as the reader would send it (a number, true/false
	// or text), empty if there is none. DataType is the OPC UA built-in type
	// of the value read (e.g. "Double", "String").
	Value    string
	DataType string
	// Err says why the point cannot be read: it could not be resolved, or
	// the server answered with a Bad status. Nil for a Good or Uncertain
	// read.
	Err error
}

// Check connects to src once, reads the namespace array, resolves every
// point and reads its value, returning one report per point in
// configuration order. Reads go in chunks no larger than the server's
// MaxNodesPerRead (and at most 1000 nodes). The error is non-nil only when
// the check itself failed: the server could not be reached, the session or
// a read failed as a whole, or the security setting is unsupported.
func Check(ctx context.Context, src config.Source) ([]PointReport, error) {
	c, info, err := connectOnce(ctx, src)
	if err != nil {
		return nil, err
	}
	defer closeClient(ctx, c)

	ids, errs := resolvePoints(src.Points, info.namespaces)
	reports := make([]PointReport, len(src.Points))
	var toRead []int // indexes of resolved points
	for i, p := range src.Points {
		reports[i] = PointReport{PointID: p.ID, Node: p.Node, Err: errs[i]}
		if ids[i] != nil {
			reports[i].Resolved = ids[i].String()
			toRead = append(toRead, i)
		}
	}

	chunk := info.readChunk()
	for len(toRead) > 0 {
		n := min(chunk, len(toRead))
		req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth}
		for _, i := range toRead[:n] {
			req.NodesToRead = append(req.NodesToRead, &ua.ReadValueID{NodeID: ids[i], AttributeID: ua.AttributeIDValue})
		}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		res, err := c.Read(cctx, req)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("read %d nodes from %s: %w", n, src.Endpoint, err)
		}
		if len(res.Results) != n {
			return nil, fmt.Errorf("read %d nodes from %s: got %d results", n, src.Endpoint, len(res.Results))
		}
		for j, dv := range res.Results {
			fillReport(&reports[toRead[j]], dv)
		}
		toRead = toRead[n:]
	}
	return reports, nil
}

// fillReport records one read result in a report.
func fillReport(r *PointReport, dv *ua.DataValue) {
	if dv == nil {
		r.Status = statusText(ua.StatusBadNoData)
		r.Err = fmt.Errorf("node %s: no data value returned", r.Resolved)
		return
	}
	r.Status = statusText(dv.Status)
	if isBad(dv.Status) {
		r.Err = fmt.Errorf("node %s: %s", r.Resolved, statusText(dv.Status))
	}
	if dv.Value == nil || dv.Value.Value() == nil {
		return
	}
	r.DataType = strings.TrimPrefix(dv.Value.Type().String(), "TypeID")
	if dv.Value.Has(ua.VariantArrayValues) {
		r.DataType += "[]"
	}
	s, _ := newSample(r.PointID, dv, time.Now())
	switch v := s.Value.(type) {
	case *lifelinev1.Sample_Number:
		r.Value = strconv.FormatFloat(v.Number, 'g', -1, 64)
	case *lifelinev1.Sample_Flag:
		r.Value = strconv.FormatBool(v.Flag)
	case *lifelinev1.Sample_Text:
		r.Value = v.Text
	}
}

// connectOnce opens a session for a one-shot command (check, browse) and
// reads the server's namespaces and limits. The caller closes the client.
func connectOnce(ctx context.Context, src config.Source) (*opcua.Client, serverInfo, error) {
	c, err := newClient(ctx, src, callTimeout)
	if err != nil {
		return nil, serverInfo{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	err = c.Connect(cctx)
	cancel()
	if err != nil {
		closeClient(ctx, c)
		return nil, serverInfo{}, connectError(src, err)
	}
	cctx, cancel = context.WithTimeout(ctx, callTimeout)
	info, err := readServerInfo(cctx, c)
	cancel()
	if err != nil {
		closeClient(ctx, c)
		return nil, serverInfo{}, fmt.Errorf("%s: %w", src.Endpoint, err)
	}
	return c, info, nil
}
