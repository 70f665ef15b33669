package opcua

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// BrowseOptions bound a walk of the address space.
type BrowseOptions struct {
	// Root is the node to start from, written like a point's node
	// (nsu=…;s=… or i=85); empty means the Objects folder.
	Root string
	// Depth is how many levels below Root are walked; 0 means 10.
	Depth int
	// MaxNodes stops the walk after this many nodes; 0 means 100000.
	MaxNodes int
}

// Variable is one variable found by Browse.
type Variable struct {
	// Node is the node ID written with its namespace URI (nsu=…;s=…).
	Node string
	// Path is the browse path from the root, names joined by "/".
	Path        string
	DisplayName string
	Description string
	// DataType names the OPC UA data type (e.g. "Double"); empty if unknown.
	DataType string
	// Unit is the EngineeringUnits display name, empty if the variable
	// has none.
	Unit string
	// Range is the EURange, nil if the variable has none.
	Range *config.Range
}

// Browse connects to src and walks the address space below opts.Root
// along hierarchical references, returning every variable in browse order.
// The server's own Server object (namespace 0) is not descended into.
// Engineering units and EURange are read from the variables' properties.
func Browse(ctx context.Context, src config.Source, opts BrowseOptions) ([]Variable, error) {
	if opts.Depth <= 0 {
		opts.Depth = 10
	}
	if opts.MaxNodes <= 0 {
		opts.MaxNodes = 100000
	}
	c, info, err := connectOnce(ctx, src)
	if err != nil {
		return nil, err
	}
	defer closeClient(ctx, c)
	root := ua.NewNumericNodeID(0, id.ObjectsFolder)
	if opts.Root != "" {
		if root, err = ParseNodeID(opts.Root, info.namespaces); err != nil {
			return nil, fmt.Errorf("root: %w", err)
		}
	}
	b := &browser{c: c, ns: info.namespaces, opts: opts, seen: map[string]bool{root.String(): true}}
	if err := b.walk(ctx, root); err != nil {
		return nil, err
	}
	if err := b.details(ctx, info.readChunk()); err != nil {
		return nil, err
	}
	return b.vars, nil
}

type browser struct {
	c    *opcua.Client
	ns   []string
	opts BrowseOptions
	seen map[string]bool
	vars []Variable
	ids  []*ua.NodeID // parallel to vars
}

type browseNode struct {
	id   *ua.NodeID
	path string
}

// walk visits the tree level by level, browsing many nodes per call.
func (b *browser) walk(ctx context.Context, root *ua.NodeID) error {
	level := []browseNode{{id: root}}
	for depth := 0; depth < b.opts.Depth && len(level) > 0; depth++ {
		var next []browseNode
		for start := 0; start < len(level); start += browseChunk {
			part := level[start:min(start+browseChunk, len(level))]
			refs, err := b.browse(ctx, part, id.HierarchicalReferences, uint32(ua.NodeClassObject|ua.NodeClassVariable))
			if err != nil {
				return err
			}
			for i, rs := range refs {
				for _, r := range rs {
					if r.NodeID == nil || r.NodeID.NodeID == nil || r.NodeID.ServerIndex != 0 {
						continue
					}
					nid := r.NodeID.NodeID
					key := nid.String()
					if b.seen[key] {
						continue
					}
					b.seen[key] = true
					if len(b.seen) > b.opts.MaxNodes {
						return fmt.Errorf("browse: more than %d nodes; start lower (--root) or lower --depth", b.opts.MaxNodes)
					}
					name := ""
					if r.BrowseName != nil {
						name = r.BrowseName.Name
					}
					path := name
					if part[i].path != "" {
						path = part[i].path + "/" + name
					}
					if r.NodeClass == ua.NodeClassVariable {
						v := Variable{Node: b.format(nid), Path: path}
						if r.DisplayName != nil {
							v.DisplayName = r.DisplayName.Text
						}
						b.vars = append(b.vars, v)
						b.ids = append(b.ids, nid)
						continue // a variable's children are its properties
					}
					if nid.Namespace() == 0 {
						continue // the Server object and other OPC UA standard nodes
					}
					next = append(next, browseNode{id: nid, path: path})
				}
			}
		}
		level = next
	}
	return nil
}

// browseChunk is how many nodes go into one Browse call.
const browseChunk = 100

// browse returns the forward references of type ref of each node,
// following continuation points.
func (b *browser) browse(ctx context.Context, nodes []browseNode, ref uint32, classes uint32) ([][]*ua.ReferenceDescription, error) {
	req := &ua.BrowseRequest{View: &ua.ViewDescription{ViewID: ua.NewTwoByteNodeID(0)}, RequestedMaxReferencesPerNode: 1000}
	for _, n := range nodes {
		req.NodesToBrowse = append(req.NodesToBrowse, &ua.BrowseDescription{
			NodeID:          n.id,
			BrowseDirection: ua.BrowseDirectionForward,
			ReferenceTypeID: ua.NewNumericNodeID(0, ref),
			IncludeSubtypes: true,
			NodeClassMask:   classes,
			ResultMask:      uint32(ua.BrowseResultMaskAll),
		})
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	res, err := b.c.Browse(cctx, req)
	if err != nil {
		return nil, fmt.Errorf("browse: %w", err)
	}
	if len(res.Results) != len(nodes) {
		return nil, fmt.Errorf("browse: %d results for %d nodes", len(res.Results), len(nodes))
	}
	out := make([][]*ua.ReferenceDescription, len(nodes))
	for i, r := range res.Results {
		if r == nil || isBad(r.StatusCode) {
			continue // a node that cannot be browsed is left out, the rest go on
		}
		out[i] = r.References
		cp := r.ContinuationPoint
		for len(cp) > 0 {
			next, err := b.c.BrowseNext(cctx, &ua.BrowseNextRequest{ContinuationPoints: [][]byte{cp}})
			if err != nil {
				return nil, fmt.Errorf("browse next: %w", err)
			}
			if len(next.Results) != 1 || next.Results[0] == nil || isBad(next.Results[0].StatusCode) {
				break
			}
			out[i] = append(out[i], next.Results[0].References...)
			cp = next.Results[0].ContinuationPoint
		}
	}
	return out, nil
}

// details reads each variable's data type and description, and its
// EngineeringUnits and EURange properties where present.
func (b *browser) details(ctx context.Context, chunk int) error {
	units, ranges, err := b.properties(ctx)
	if err != nil {
		return err
	}
	// Attributes and property values in one list of reads.
	var reads []*ua.ReadValueID
	var wants []detail
	for i, nid := range b.ids {
		reads = append(reads,
			&ua.ReadValueID{NodeID: nid, AttributeID: ua.AttributeIDDataType},
			&ua.ReadValueID{NodeID: nid, AttributeID: ua.AttributeIDDescription})
		wants = append(wants, detail{i, detailDataType}, detail{i, detailDescription})
		if units[i] != nil {
			reads = append(reads, &ua.ReadValueID{NodeID: units[i], AttributeID: ua.AttributeIDValue})
			wants = append(wants, detail{i, detailUnit})
		}
		if ranges[i] != nil {
			reads = append(reads, &ua.ReadValueID{NodeID: ranges[i], AttributeID: ua.AttributeIDValue})
			wants = append(wants, detail{i, detailRange})
		}
	}
	for start := 0; start < len(reads); start += chunk {
		end := min(start+chunk, len(reads))
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		res, err := b.c.Read(cctx, &ua.ReadRequest{NodesToRead: reads[start:end], TimestampsToReturn: ua.TimestampsToReturnNeither})
		cancel()
		if err != nil {
			return fmt.Errorf("read variable details: %w", err)
		}
		if len(res.Results) != end-start {
			return errors.New("read variable details: wrong number of results")
		}
		for j, dv := range res.Results {
			if dv == nil || isBad(dv.Status) || dv.Value == nil {
				continue
			}
			b.apply(wants[start+j], dv.Value.Value())
		}
	}
	return nil
}

// properties finds each variable's EngineeringUnits and EURange property
// nodes (nil where it has none).
func (b *browser) properties(ctx context.Context) (units, ranges []*ua.NodeID, err error) {
	units = make([]*ua.NodeID, len(b.vars))
	ranges = make([]*ua.NodeID, len(b.vars))
	for start := 0; start < len(b.vars); start += browseChunk {
		end := min(start+browseChunk, len(b.vars))
		part := make([]browseNode, 0, end-start)
		for _, nid := range b.ids[start:end] {
			part = append(part, browseNode{id: nid})
		}
		refs, err := b.browse(ctx, part, id.HasProperty, uint32(ua.NodeClassVariable))
		if err != nil {
			return nil, nil, err
		}
		for i, rs := range refs {
			for _, r := range rs {
				if r.BrowseName == nil || r.NodeID == nil || r.BrowseName.NamespaceIndex != 0 {
					continue
				}
				switch r.BrowseName.Name {
				case "EngineeringUnits":
					units[start+i] = r.NodeID.NodeID
				case "EURange":
					ranges[start+i] = r.NodeID.NodeID
				}
			}
		}
	}
	return units, ranges, nil
}

// detail is what one read of details asks for: an attribute or property
// of variable v.
type detail struct {
	v    int
	kind detailKind
}

type detailKind int

const (
	detailDataType detailKind = iota
	detailDescription
	detailUnit
	detailRange
)

// apply stores a read detail in its variable; values of an unexpected type
// are ignored.
func (b *browser) apply(w detail, value any) {
	v := &b.vars[w.v]
	switch w.kind {
	case detailDataType:
		if nid, ok := value.(*ua.NodeID); ok {
			v.DataType = b.typeName(nid)
		}
	case detailDescription:
		if lt, ok := value.(*ua.LocalizedText); ok && lt != nil {
			v.Description = lt.Text
		}
	case detailUnit:
		if eo, ok := value.(*ua.ExtensionObject); ok && eo != nil {
			if eu, ok := eo.Value.(*ua.EUInformation); ok && eu.DisplayName != nil {
				v.Unit = eu.DisplayName.Text
			}
		}
	case detailRange:
		if eo, ok := value.(*ua.ExtensionObject); ok && eo != nil {
			if r, ok := eo.Value.(*ua.Range); ok && r.Low < r.High {
				v.Range = &config.Range{Low: r.Low, High: r.High}
			}
		}
	}
}

// typeName names a data type node: the standard name for namespace 0,
// otherwise its node ID.
func (b *browser) typeName(nid *ua.NodeID) string {
	if nid.Namespace() == 0 && nid.IntID() != 0 {
		if name := id.Name(nid.IntID()); name != "" {
			return name
		}
	}
	return b.format(nid)
}

// format writes a node ID with its namespace URI instead of its index.
func (b *browser) format(nid *ua.NodeID) string {
	return FormatNodeID(nid, b.ns)
}

// FormatNodeID writes nid as the configuration wants it: "nsu=URI;s=…"
// with the namespace URI from namespaces, or the bare identifier for
// namespace 0. An index beyond the array is kept as "ns=N;…".
func FormatNodeID(nid *ua.NodeID, namespaces []string) string {
	s := nid.String()
	ns := int(nid.Namespace())
	if ns == 0 || ns >= len(namespaces) {
		return s
	}
	_, ident, _ := strings.Cut(s, ";")
	return "nsu=" + namespaces[ns] + ";" + ident
}
