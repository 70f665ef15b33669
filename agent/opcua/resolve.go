package opcua

import (
	"github.com/gopcua/opcua/ua"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// resolvePoints resolves every point's node against the namespace array.
// ids[i] is nil exactly when errs[i] is not.
func resolvePoints(points []config.Point, namespaces []string) (ids []*ua.NodeID, errs []error) {
	ids = make([]*ua.NodeID, len(points))
	errs = make([]error, len(points))
	for i, p := range points {
		ids[i], errs[i] = ParseNodeID(p.Node, namespaces)
	}
	return ids, errs
}

// resolve resolves the reader's points, logging each point that fails
// (once per distinct problem) and setting the Unresolved count. Removed
// points (see Update) resolve to nil without a problem.
func (r *Reader) resolve(namespaces []string) []*ua.NodeID {
	ids, errs := resolvePoints(r.src.Points, namespaces)
	n := 0
	for i, err := range errs {
		if r.gone[i] {
			ids[i] = nil
			continue
		}
		if err != nil {
			n++
			r.problem(i, "point not resolved; it is not read", "err", err)
		}
	}
	r.unresolved.Store(int64(n))
	return ids
}
