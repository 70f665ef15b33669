package plantsim

import (
	"fmt"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// ValueType is the OPC UA data type of a simulated variable.
type ValueType string

// The value types the simulator serves.
const (
	Double ValueType = "double"
	Bool   ValueType = "bool"
	String ValueType = "string"
)

// PointSpec describes one simulated variable: its point (位号) in the agent's
// terms and the OPC UA node that serves it.
type PointSpec struct {
	// ID is the point ID inside the site, e.g. "T101.LT".
	ID string
	// Identifier is the string identifier of the node inside the
	// simulator's namespace, e.g. "TankFarm.T101.Level".
	Identifier string
	// Node is the node ID written with the namespace URI, e.g.
	// "nsu=urn:lifeline:plantsim;s=TankFarm.T101.Level".
	Node         string
	Name         string
	Description  string
	Unit         string
	Kind         string
	Type         ValueType
	Range        *config.Range
	Limits       *config.Limits
	HazardSource string
	Equipment    string
}

// Hazard source codes of the simulated plant.
const (
	HazardTankFarm = "HS-01"
	HazardReactor  = "HS-02"
)

var hazardSources = []config.HazardSource{
	{Code: HazardTankFarm, Name: "甲醇储罐区", Level: 2},
	{Code: HazardReactor, Name: "氯化反应装置", Level: 1},
}

// tankIDs are the storage tanks of the tank farm.
var tankIDs = []string{"T101", "T102", "T103", "T104"}

// gasDetector describes a gas detector of the model.
type gasDetector struct {
	id, identifier, name, desc, unit, kind, hazard, equipment string
	high, stage1, stage2, deadband                            float64
}

var gasDetectors = []gasDetector{
	{"GT101", "TankFarm.Dike.GT101", "罐区可燃气体检测器 GT-101", "甲醇储罐区防火堤内 T101 东侧可燃气体检测器（一级 25 %LEL，二级 50 %LEL）", "%LEL", "gas_combustible", HazardTankFarm, "罐区防火堤", 100, 25, 50, 1},
	{"GT102", "TankFarm.Dike.GT102", "罐区可燃气体检测器 GT-102", "甲醇储罐区防火堤内 T102 东侧可燃气体检测器（一级 25 %LEL，二级 50 %LEL）", "%LEL", "gas_combustible", HazardTankFarm, "罐区防火堤", 100, 25, 50, 1},
	{"GT103", "TankFarm.Dike.GT103", "罐区可燃气体检测器 GT-103", "甲醇储罐区防火堤内 T103 西侧可燃气体检测器（一级 25 %LEL，二级 50 %LEL）", "%LEL", "gas_combustible", HazardTankFarm, "罐区防火堤", 100, 25, 50, 1},
	{"GT104", "TankFarm.Dike.GT104", "罐区可燃气体检测器 GT-104", "甲醇储罐区防火堤内 T104 西侧可燃气体检测器（一级 25 %LEL，二级 50 %LEL）", "%LEL", "gas_combustible", HazardTankFarm, "罐区防火堤", 100, 25, 50, 1},
	{"AT101", "TankFarm.Dike.AT101", "罐区有毒气体检测器 AT-101", "甲醇储罐区防火堤内甲醇有毒气体检测器（甲醇 PC-TWA 25 mg/m³ 约 19 ppm；一级 20 ppm，二级 40 ppm）", "ppm", "gas_toxic", HazardTankFarm, "罐区防火堤", 200, 20, 40, 1},
	{"GT201", "Reactor.Area.GT201", "反应区可燃气体检测器 GT-201", "氯化反应装置区域可燃气体检测器（一级 25 %LEL，二级 50 %LEL）", "%LEL", "gas_combustible", HazardReactor, "R201 氯化反应釜", 100, 25, 50, 1},
	{"AT201", "Reactor.Area.AT201", "反应区氯气检测器 AT-201", "氯化反应装置区域氯气检测器（氯气 MAC 1 mg/m³ 约 0.33 ppm；一级 0.3 ppm，二级 0.6 ppm）", "ppm", "gas_toxic", HazardReactor, "R201 氯化反应釜", 10, 0.3, 0.6, 0.05},
}

// Limits of the analog points, shared by the catalog and the model.
const (
	tankLevelHigh   = 20.0
	tankLevelLL     = 1.0
	tankLevelL      = 2.0
	tankLevelH      = 16.0
	tankLevelHH     = 18.0
	reactorTempH    = 95.0
	reactorTempHH   = 105.0
	reactorPressH   = 400.0
	reactorPressHH  = 480.0
	reactorFeedH    = 250.0
	reactorFeedHH   = 300.0
	loadRangeHigh   = 100.0
	loadIdentPrefix = "Load.P"
)

// LoadIDPrefix starts the point ID of every extra load point (LOAD.P00001 …).
const LoadIDPrefix = "LOAD.P"

func f(v float64) *float64 { return &v }

// plantCatalog lists the points of the plant model (without load points).
// The model addresses them by index (see newPlant), so the order here is
// part of the model.
func plantCatalog() []PointSpec {
	var ps []PointSpec
	for _, t := range tankIDs {
		eq := t + " 甲醇储罐"
		ps = append(ps,
			PointSpec{
				ID: t + ".LT", Identifier: "TankFarm." + t + ".Level",
				Name: t + " 甲醇储罐液位", Description: t + " 甲醇储罐雷达液位计（量程 0–20 m，低低 1 m，低 2 m，高 16 m，高高 18 m）",
				Unit: "m", Kind: "level", Type: Double,
				Range:        &config.Range{Low: 0, High: tankLevelHigh},
				Limits:       &config.Limits{LowLow: f(tankLevelLL), Low: f(tankLevelL), High: f(tankLevelH), HighHigh: f(tankLevelHH), Deadband: 0.05},
				HazardSource: HazardTankFarm, Equipment: eq,
			},
			PointSpec{
				ID: t + ".TT", Identifier: "TankFarm." + t + ".Temperature",
				Name: t + " 甲醇储罐温度", Description: t + " 甲醇储罐罐内温度，随昼夜气温变化",
				Unit: "°C", Kind: "temperature", Type: Double,
				Range:        &config.Range{Low: -20, High: 60},
				Limits:       &config.Limits{High: f(35), HighHigh: f(40), Deadband: 0.2},
				HazardSource: HazardTankFarm, Equipment: eq,
			},
			PointSpec{
				ID: t + ".PT", Identifier: "TankFarm." + t + ".Pressure",
				Name: t + " 甲醇储罐压力", Description: t + " 甲醇储罐气相压力（表压）",
				Unit: "kPa", Kind: "pressure", Type: Double,
				Range:        &config.Range{Low: 0, High: 10},
				Limits:       &config.Limits{High: f(6), HighHigh: f(8), Deadband: 0.05},
				HazardSource: HazardTankFarm, Equipment: eq,
			},
			PointSpec{
				ID: t + ".PUMP", Identifier: "TankFarm." + t + ".InletPump",
				Name: t + " 进料泵运行", Description: t + " 甲醇储罐进料泵运行状态（true 为运行）",
				Kind: "switch", Type: Bool,
				HazardSource: HazardTankFarm, Equipment: eq,
			},
		)
	}
	const reactor = "R201 氯化反应釜"
	ps = append(ps,
		PointSpec{
			ID: "R201.TT", Identifier: "Reactor.R201.Temperature",
			Name: "R201 反应釜温度", Description: "R201 氯化反应釜釜内温度（高 95 °C，高高 105 °C）",
			Unit: "°C", Kind: "temperature", Type: Double,
			Range:        &config.Range{Low: 0, High: 200},
			Limits:       &config.Limits{High: f(reactorTempH), HighHigh: f(reactorTempHH), Deadband: 0.5},
			HazardSource: HazardReactor, Equipment: reactor,
		},
		PointSpec{
			ID: "R201.PT", Identifier: "Reactor.R201.Pressure",
			Name: "R201 反应釜压力", Description: "R201 氯化反应釜釜内压力（绝压）",
			Unit: "kPa", Kind: "pressure", Type: Double,
			Range:        &config.Range{Low: 0, High: 1000},
			Limits:       &config.Limits{High: f(reactorPressH), HighHigh: f(reactorPressHH), Deadband: 2},
			HazardSource: HazardReactor, Equipment: reactor,
		},
		PointSpec{
			ID: "R201.FT", Identifier: "Reactor.R201.ChlorineFeed",
			Name: "R201 氯气进料流量", Description: "R201 氯化反应釜氯气进料质量流量",
			Unit: "kg/h", Kind: "flow", Type: Double,
			Range:        &config.Range{Low: 0, High: 400},
			Limits:       &config.Limits{High: f(reactorFeedH), HighHigh: f(reactorFeedHH), Deadband: 1},
			HazardSource: HazardReactor, Equipment: reactor,
		},
		PointSpec{
			ID: "R201.AGIT", Identifier: "Reactor.R201.Agitator",
			Name: "R201 搅拌电机运行", Description: "R201 氯化反应釜搅拌电机运行状态（true 为运行）",
			Kind: "switch", Type: Bool,
			HazardSource: HazardReactor, Equipment: reactor,
		},
		PointSpec{
			ID: "R201.BATCH", Identifier: "Reactor.R201.BatchID",
			Name: "R201 当前批号", Description: "R201 氯化反应釜当前生产批号",
			Kind: "status", Type: String,
			HazardSource: HazardReactor, Equipment: reactor,
		},
		PointSpec{
			ID: "R201.PHASE", Identifier: "Reactor.R201.Phase",
			Name: "R201 工艺阶段", Description: "R201 氯化反应釜当前工艺阶段（投料、升温、通氯反应、保温、降温出料、空闲）",
			Kind: "status", Type: String,
			HazardSource: HazardReactor, Equipment: reactor,
		},
	)
	for _, g := range gasDetectors {
		ps = append(ps, PointSpec{
			ID: g.id, Identifier: g.identifier,
			Name: g.name, Description: g.desc,
			Unit: g.unit, Kind: g.kind, Type: Double,
			Range:        &config.Range{Low: 0, High: g.high},
			Limits:       &config.Limits{Stage1: f(g.stage1), Stage2: f(g.stage2), Deadband: g.deadband},
			HazardSource: g.hazard, Equipment: g.equipment,
		})
	}
	return ps
}

// loadPoint returns the spec of extra load point i (1-based).
func loadPoint(i int) PointSpec {
	n := fmt.Sprintf("%05d", i)
	return PointSpec{
		ID: LoadIDPrefix + n, Identifier: loadIdentPrefix + n,
		Name: "负载测试点 " + n, Description: "扩展负载测试点 " + n + "，按设定频率连续变化",
		Kind: "analog", Type: Double,
		Range: &config.Range{Low: 0, High: loadRangeHigh},
	}
}

// buildCatalog lists every point of a simulator with the given options.
func buildCatalog(namespaceURI string, loadPoints int) []PointSpec {
	ps := plantCatalog()
	for i := 1; i <= loadPoints; i++ {
		ps = append(ps, loadPoint(i))
	}
	for i := range ps {
		ps[i].Node = "nsu=" + namespaceURI + ";s=" + ps[i].Identifier
	}
	return ps
}
