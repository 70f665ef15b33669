package dashboards

// text holds every visible string in both languages, keyed by a short
// English name.
var text = map[string][2]string{ // {zh, en}
	// Dashboards.
	"dash." + KindOverview:   {"园区总览", "Park overview"},
	"dash." + KindEnterprise: {"企业", "Enterprise"},
	"dash." + KindHazard:     {"重大危险源", "Major hazard source"},
	"dash." + KindPoint:      {"监测点详情", "Point detail"},
	"dash." + KindAlarms:     {"报警", "Alarms"},
	"dash." + KindAgents:     {"数据链路", "Data links"},
	"links":                  {"本园区仪表盘", "This park's dashboards"},

	// Variables.
	"var.park":   {"园区", "Park"},
	"var.site":   {"企业", "Enterprise"},
	"var.hazard": {"危险源", "Hazard source"},
	"var.point":  {"位号", "Point"},

	// Panels.
	"overview.online":  {"在线企业", "Enterprises online"},
	"overview.sites":   {"企业在线状态与在线率", "Enterprises: online status and online rate"},
	"overview.hazards": {"重大危险源（按级别）", "Major hazard sources by level"},
	"overview.gaps":    {"数据缺失", "Data gaps"},
	"overview.samples": {"入库数据量", "Samples stored"},
	"overview.alarms":  {"当前报警（按优先级）", "Active alarms by priority"},

	"alarms.kpi":        {"报警绩效（ISA-18.2）", "Alarm KPIs (ISA-18.2)"},
	"alarms.active":     {"当前报警", "Active alarms"},
	"alarms.rate":       {"每10分钟报警数", "Alarms per 10 minutes"},
	"alarms.bad_actors": {"频发报警点", "Bad actors"},
	"alarms.history":    {"报警历史", "Alarm history"},

	"enterprise.hazards": {"重大危险源", "Major hazard sources"},
	"enterprise.points":  {"关键监测点当前值", "Key points: current values"},
	"enterprise.trend":   {"关键监测点趋势", "Key points: trends"},

	"hazard.points":      {"全部监测点", "All points"},
	"hazard.level":       {"液位", "Levels"},
	"hazard.temperature": {"温度", "Temperatures"},
	"hazard.pressure":    {"压力", "Pressures"},
	"hazard.gas":         {"可燃/有毒气体", "Combustible / toxic gas"},

	"point.trend":   {"趋势与报警限", "Trend with alarm limits"},
	"point.last":    {"最新值", "Latest value"},
	"point.quality": {"数据质量", "Data quality"},
	"point.info":    {"位号信息", "Point description"},
	"point.gaps":    {"数据缺失", "Data gaps"},

	"agents.status":  {"采集端连接与积压", "Agents: connection and backlog"},
	"agents.backlog": {"积压批次", "Backlog (batches)"},
	"agents.drain":   {"补传速率", "Drain rate"},

	// Columns.
	"col.site_id":           {"企业", "Enterprise"},
	"col.online":            {"在线", "Online"},
	"col.last_seen":         {"最后心跳", "Last heartbeat"},
	"col.points":            {"监测点", "Points"},
	"col.reporting":         {"有数据点", "Reporting"},
	"col.online_rate":       {"在线率", "Online rate"},
	"col.backlog_batches":   {"积压批次", "Backlog batches"},
	"col.backlog_bytes":     {"积压字节", "Backlog bytes"},
	"col.backlog_age_s":     {"最早积压", "Oldest backlog"},
	"col.drain_rate":        {"补传速率", "Drain rate"},
	"col.agent_version":     {"版本", "Version"},
	"col.sources_connected": {"已连数据源", "Sources up"},
	"col.sources_total":     {"数据源", "Sources"},
	"col.cert_days_left":    {"证书剩余天数", "Certificate days left"},
	"col.level":             {"级别", "Level"},
	"col.hazard_code":       {"危险源编码", "Hazard code"},
	"col.hazard_name":       {"危险源名称", "Hazard source"},
	"col.hazard_level":      {"级别", "Level"},
	"col.alarming":          {"报警点", "In alarm"},
	"col.state":             {"状态", "State"},
	"col.equipment":         {"设备", "Equipment"},
	"col.point_id":          {"位号", "Point"},
	"col.name":              {"名称", "Name"},
	"col.description":       {"描述", "Description"},
	"col.kind":              {"类型", "Kind"},
	"col.value":             {"当前值", "Value"},
	"col.unit":              {"单位", "Unit"},
	"col.range_low":         {"量程下限", "Range low"},
	"col.range_high":        {"量程上限", "Range high"},
	"col.ll":                {"低低限", "LL"},
	"col.l":                 {"低限", "L"},
	"col.h":                 {"高限", "H"},
	"col.hh":                {"高高限", "HH"},
	"col.stage1":            {"一级报警", "Stage 1"},
	"col.stage2":            {"二级报警", "Stage 2"},
	"col.deadband":          {"死区", "Deadband"},
	"col.node_id":           {"OPC UA 节点", "OPC UA node"},
	"col.out_of_service":    {"停用", "Out of service"},
	"col.last_ts":           {"时间", "Time"},
	"col.from_ts":           {"开始", "From"},
	"col.to_ts":             {"结束", "To"},
	"col.samples":           {"样本数", "Samples"},
	"col.reason":            {"原因", "Reason"},
	"col.total":             {"企业总数", "Enterprises"},
	"col.good":              {"正常质量", "Good quality"},
	"col.bad":               {"坏质量", "Bad quality"},
	"col.low":               {"最小", "Min"},
	"col.high":              {"最大", "Max"},
	"col.good_samples":      {"正常质量", "Good quality"},
	"col.bad_samples":       {"坏质量", "Bad quality"},
	"col.LL":                {"低低限 LL", "LL"},
	"col.L":                 {"低限 L", "L"},
	"col.H":                 {"高限 H", "H"},
	"col.HH":                {"高高限 HH", "HH"},
	"col.S1":                {"一级报警", "Stage 1"},
	"col.S2":                {"二级报警", "Stage 2"},

	"col.raised_at":      {"报警时间", "Raised"},
	"col.cleared_at":     {"恢复时间", "Cleared"},
	"col.condition":      {"报警类型", "Condition"},
	"col.priority":       {"优先级", "Priority"},
	"col.limit_value":    {"报警限值", "Limit"},
	"col.active_s":       {"持续", "Active for"},
	"col.peak_value":     {"峰值", "Peak"},
	"col.duration_s":     {"持续时间", "Duration"},
	"col.backfill":       {"补传数据", "Back-filled"},
	"col.raises":         {"报警次数", "Alarms"},
	"col.max_per_minute": {"每分钟最多", "Peak per minute"},
	"col.total_active_s": {"累计持续", "Total active"},
	"col.alarms":         {"报警总数", "Alarms"},
	"col.avg_per_10min":  {"平均每10分钟", "Average per 10 min"},
	"col.max_per_10min":  {"最多每10分钟", "Peak per 10 min"},
	"col.flood_share":    {"报警泛滥时段", "Flood intervals"},
	"col.chattering":     {"振荡报警", "Chattering"},
	"col.stale":          {"超24小时未恢复", "Stale (> 24 h)"},
	"col.active":         {"当前报警", "Active"},

	// Values.
	"state.OK":          {"正常", "Normal"},
	"state.H":           {"高报", "High"},
	"state.L":           {"低报", "Low"},
	"state.HH":          {"高高报", "High-high"},
	"state.LL":          {"低低报", "Low-low"},
	"state.S1":          {"一级报警", "Stage 1"},
	"state.S2":          {"二级报警", "Stage 2"},
	"state.OOS":         {"停用", "Out of service"},
	"state.NODATA":      {"无数据", "No data"},
	"state.bad_quality": {"坏质量", "Bad quality"},
	"state.stale":       {"数据中断", "Stale / comm loss"},
	"priority.1":        {"紧急", "Urgent"},
	"priority.2":        {"高", "High"},
	"priority.3":        {"中", "Medium"},
	"priority.4":        {"低", "Low"},
	"online.1":          {"在线", "Online"},
	"online.0":          {"离线", "Offline"},
	"level.1":           {"一级", "Level 1"},
	"level.2":           {"二级", "Level 2"},
	"level.3":           {"三级", "Level 3"},
	"level.4":           {"四级", "Level 4"},
}

// tr returns the text for key in lang, or the key itself when it is missing
// (tests check that none is).
func tr(lang Lang, key string) string {
	t, ok := text[key]
	if !ok {
		return key
	}
	if lang == English {
		return t[1]
	}
	return t[0]
}
