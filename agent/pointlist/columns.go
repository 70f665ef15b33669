package pointlist

import (
	"strings"
	"unicode"
)

// column identifies one field of a point list.
type column int

const (
	colNone column = iota
	colID
	colName
	colDescription
	colUnit
	colKind
	colNode
	colSource
	colRangeLow
	colRangeHigh
	colLL
	colL
	colH
	colHH
	colStage1
	colStage2
	colDeadband
	colHazardCode
	colHazardName
	colHazardLevel
	colEquipment
	colOutOfService
	colSamplingInterval
	colDataDeadband
	colInfo // informational columns a template carries (data type, browse path): ignored
)

// aliases maps normalised header names onto columns. The first alias of
// each column (Chinese) and the second (English) are what templates use.
var aliases = map[column][]string{
	colID:               {"位号", "id", "tag", "point", "点位", "点号", "测点位号", "仪表位号"},
	colName:             {"名称", "name", "点名", "测点名称", "位号名称"},
	colDescription:      {"描述", "description", "desc", "说明", "备注"},
	colUnit:             {"单位", "unit", "工程单位", "eu"},
	colKind:             {"类型", "kind", "测点类型", "监测类型", "点类型"},
	colNode:             {"节点", "node", "nodeid", "node_id", "节点id", "opc节点", "opcua节点", "opc_ua节点"},
	colSource:           {"数据源", "source", "服务器", "server"},
	colRangeLow:         {"量程下限", "range_low", "下限量程", "量程低", "eu_low", "low"},
	colRangeHigh:        {"量程上限", "range_high", "上限量程", "量程高", "eu_high", "high"},
	colLL:               {"低低报", "ll", "低低限", "低低报警", "低低报警值", "lolo"},
	colL:                {"低报", "l", "低限", "低报警", "低报警值", "lo"},
	colH:                {"高报", "h", "高限", "高报警", "高报警值", "hi"},
	colHH:               {"高高报", "hh", "高高限", "高高报警", "高高报警值", "hihi"},
	colStage1:           {"一级报警", "stage1", "一级报警值", "一级"},
	colStage2:           {"二级报警", "stage2", "二级报警值", "二级"},
	colDeadband:         {"报警死区", "alarm_deadband", "死区"},
	colHazardCode:       {"重大危险源编码", "hazard_code", "危险源编码", "hazard_source", "重大危险源代码"},
	colHazardName:       {"重大危险源名称", "hazard_name", "危险源名称"},
	colHazardLevel:      {"重大危险源等级", "hazard_level", "危险源等级", "重大危险源级别"},
	colEquipment:        {"设备", "equipment", "所属设备", "设备位号", "设备名称"},
	colOutOfService:     {"停用", "out_of_service", "是否停用"},
	colSamplingInterval: {"采样周期", "sampling_interval", "采样间隔"},
	colDataDeadband:     {"数据死区", "deadband", "变化死区"},
	colInfo:             {"数据类型", "data_type", "浏览路径", "browse_path", "序号", "no"},
}

var byAlias = func() map[string]column {
	m := map[string]column{}
	for c, names := range aliases {
		for _, n := range names {
			m[normalise(n)] = c
		}
	}
	return m
}()

// normalise folds a header cell for lookup: a unit or note in brackets
// ("量程上限(m)", "位号（id）") is dropped, full-width letters fold to
// ASCII, case, spaces, dashes and underscores are ignored.
func normalise(h string) string {
	h = strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")
	for _, open := range []string{"(", "（", "[", "【"} {
		if i := strings.Index(h, open); i > 0 {
			h = h[:i]
		}
	}
	var b strings.Builder
	for _, r := range h {
		if r >= 0xFF01 && r <= 0xFF5E { // full-width ASCII
			r -= 0xFEE0
		}
		if unicode.IsSpace(r) || r == '_' || r == '-' || r == '/' {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// heading is how a template names a column: Chinese, English in brackets.
func heading(c column) string {
	a := aliases[c]
	return a[0] + "(" + a[1] + ")"
}

// kinds maps Chinese kind names onto the configuration's kinds.
var kinds = map[string]string{
	"液位": "level", "物位": "level",
	"温度":   "temperature",
	"压力":   "pressure",
	"流量":   "flow",
	"可燃气体": "gas_combustible", "可燃": "gas_combustible",
	"有毒气体": "gas_toxic", "有毒": "gas_toxic",
	"氧气": "gas_oxygen", "氧含量": "gas_oxygen",
	"开关": "switch", "开关量": "switch",
	"模拟量": "analog",
	"状态":  "status",
}
