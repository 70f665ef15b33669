package plantsim

import (
	"time"

	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
)

// Values of the decoy nodes (Options.DecoyValues).
const (
	DecoyNumber = -999999.0
	DecoyText   = "DECOY"
)

// addDecoys adds a constant decoy variable for every numeric and text
// point of the catalog to ns, under the point's identifier.
func addDecoys(ns *server.NodeNameSpace, catalog []PointSpec) {
	for _, p := range catalog {
		var v any
		switch p.Type {
		case Double:
			v = DecoyNumber
		case String:
			v = DecoyText
		default:
			continue
		}
		dv := &ua.DataValue{Value: ua.MustVariant(v), SourceTimestamp: time.Now(), ServerTimestamp: time.Now()}
		dv.UpdateMask()
		ns.AddNode(server.NewVariableNode(ua.NewStringNodeID(ns.ID(), p.Identifier), p.Identifier, func() *ua.DataValue {
			c := *dv
			return &c
		}))
	}
}
