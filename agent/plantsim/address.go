package plantsim

import (
	"strings"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
)

// folder is an object node of the address space that groups points.
type folder struct {
	identifier, browse, display, desc string
}

// folders lists the object nodes, parents before children. A point's
// parent is the longest folder identifier that prefixes its identifier.
var folders = []folder{
	{"TankFarm", "TankFarm", "甲醇储罐区（HS-01）", "二级重大危险源：甲醇储罐区，4 台储罐位于同一防火堤内"},
	{"TankFarm.T101", "T101", "T101 甲醇储罐", "T101 甲醇内浮顶储罐"},
	{"TankFarm.T102", "T102", "T102 甲醇储罐", "T102 甲醇内浮顶储罐"},
	{"TankFarm.T103", "T103", "T103 甲醇储罐", "T103 甲醇内浮顶储罐"},
	{"TankFarm.T104", "T104", "T104 甲醇储罐", "T104 甲醇内浮顶储罐"},
	{"TankFarm.Dike", "Dike", "罐区防火堤", "甲醇储罐区防火堤内的气体检测器"},
	{"Reactor", "Reactor", "氯化反应装置（HS-02）", "一级重大危险源：氯化反应装置"},
	{"Reactor.R201", "R201", "R201 氯化反应釜", "R201 氯化反应釜及其仪表"},
	{"Reactor.Area", "Area", "反应区", "氯化反应装置区域的气体检测器"},
	{"Load", "Load", "扩展负载测试点", "用于压力测试的扩展负载点"},
}

const locale = "zh-CN"

func text(s string) *ua.LocalizedText {
	lt := &ua.LocalizedText{Text: s, Locale: locale}
	lt.UpdateMask()
	return lt
}

func typeDefinition(typeID uint32, name string, class ua.NodeClass) *ua.ReferenceDescription {
	return &ua.ReferenceDescription{
		ReferenceTypeID: ua.NewNumericNodeID(0, id.HasTypeDefinition),
		IsForward:       true,
		NodeID:          ua.NewNumericExpandedNodeID(0, typeID),
		BrowseName:      &ua.QualifiedName{Name: name},
		DisplayName:     &ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: name},
		NodeClass:       class,
		TypeDefinition:  ua.NewTwoByteExpandedNodeID(0),
	}
}

func dataTypeOf(t ValueType) uint32 {
	switch t {
	case Bool:
		return id.Boolean
	case String:
		return id.String
	default:
		return id.Double
	}
}

// buildAddressSpace adds the sim's folders and variables to ns and links
// the top folders from the server's Objects folder. It must run before the
// server starts serving: gopcua's nodes are not safe to change while
// clients browse them.
func buildAddressSpace(srv *server.Server, ns *server.NodeNameSpace, vars []*variable, minSampling float64) error {
	idx := ns.ID()
	nodes := make(map[string]*server.Node, len(folders))
	root, err := srv.Namespace(0)
	if err != nil {
		return err
	}
	objects := root.Objects()
	for _, f := range folders {
		n := server.NewNode(
			ua.NewStringNodeID(idx, f.identifier),
			server.Attributes{
				ua.AttributeIDNodeClass:     server.DataValueFromValue(uint32(ua.NodeClassObject)),
				ua.AttributeIDBrowseName:    server.DataValueFromValue(&ua.QualifiedName{NamespaceIndex: idx, Name: f.browse}),
				ua.AttributeIDDisplayName:   server.DataValueFromValue(text(f.display)),
				ua.AttributeIDDescription:   server.DataValueFromValue(text(f.desc)),
				ua.AttributeIDEventNotifier: server.DataValueFromValue(byte(0)),
			},
			server.References{typeDefinition(id.FolderType, "FolderType", ua.NodeClassObjectType)},
			nil,
		)
		ns.AddNode(n)
		nodes[f.identifier] = n
		if parent := parentOf(f.identifier, nodes); parent != nil {
			parent.AddRef(n, id.Organizes, true)
		} else {
			objects.AddRef(n, id.Organizes, true)
		}
	}
	for _, v := range vars {
		p := v.spec
		v.id = ua.NewStringNodeID(idx, p.Identifier)
		v.key = v.id.String()
		browse := p.Identifier[strings.LastIndexByte(p.Identifier, '.')+1:]
		n := server.NewNode(
			v.id,
			server.Attributes{
				ua.AttributeIDNodeClass:               server.DataValueFromValue(uint32(ua.NodeClassVariable)),
				ua.AttributeIDBrowseName:              server.DataValueFromValue(&ua.QualifiedName{NamespaceIndex: idx, Name: browse}),
				ua.AttributeIDDisplayName:             server.DataValueFromValue(text(p.Name)),
				ua.AttributeIDDescription:             server.DataValueFromValue(text(p.Description)),
				ua.AttributeIDDataType:                server.DataValueFromValue(ua.NewNumericNodeID(0, dataTypeOf(p.Type))),
				ua.AttributeIDValueRank:               server.DataValueFromValue(int32(-1)),
				ua.AttributeIDAccessLevel:             server.DataValueFromValue(byte(ua.AccessLevelTypeCurrentRead)),
				ua.AttributeIDUserAccessLevel:         server.DataValueFromValue(byte(ua.AccessLevelTypeCurrentRead)),
				ua.AttributeIDMinimumSamplingInterval: server.DataValueFromValue(minSampling),
				ua.AttributeIDHistorizing:             server.DataValueFromValue(false),
			},
			server.References{typeDefinition(id.BaseDataVariableType, "BaseDataVariableType", ua.NodeClassVariableType)},
			v.current,
		)
		ns.AddNode(n)
		if parent := parentOf(p.Identifier, nodes); parent != nil {
			parent.AddRef(n, id.HasComponent, true)
		} else {
			objects.AddRef(n, id.Organizes, true)
		}
	}
	return nil
}

// parentOf returns the folder whose identifier is the longest proper
// prefix (up to a dot) of identifier.
func parentOf(identifier string, nodes map[string]*server.Node) *server.Node {
	for i := strings.LastIndexByte(identifier, '.'); i > 0; i = strings.LastIndexByte(identifier[:i], '.') {
		if n := nodes[identifier[:i]]; n != nil {
			return n
		}
	}
	return nil
}
