package dashboards

import (
	"embed"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

// SQLFiles lists the embedded SQL files by name.
func SQLFiles() []string {
	entries, _ := sqlFiles.ReadDir("sql")
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// Risk colours follow the national convention: red, orange, yellow, blue
// for major, larger, general and low risk.
const (
	red    = "red"
	orange = "orange"
	yellow = "yellow"
	blue   = "blue"
	green  = "green"
	grey   = "#808080"
)

// Grafana panel and query formats of the ClickHouse plugin (v4).
const (
	formatTimeSeries = 0
	formatTable      = 1
	schemaVersion    = 39
	pluginVersion    = "4.0.0"
	gridWidth        = 24
)

// builder assembles one dashboard.
type builder struct {
	o       Options
	d       *Dashboard
	vars    []any
	annos   []any
	panels  []any
	nextID  int
	x, y, h int
	err     error
}

func build(park, kind, site string, o Options) (Dashboard, error) {
	d := Dashboard{UID: UID(park, kind, site), Kind: kind, Park: park, Site: site}
	title := tr(o.Lang, "dash."+kind)
	if site != "" {
		title += " " + site
	}
	d.Title = title + " · " + park
	b := &builder{o: o, d: &d}
	d.constants = map[string]string{}
	b.constant("park", park)
	switch kind {
	case KindOverview:
		overview(b)
	case KindEnterprise:
		b.constant("site", site)
		enterprise(b)
	case KindHazard:
		b.variable("site", "var_site.sql")
		b.variable("hazard", "var_hazard.sql")
		hazard(b)
	case KindPoint:
		b.variable("site", "var_site.sql")
		b.variable("point", "var_point.sql")
		point(b)
	case KindAgents:
		agents(b)
	case KindAlarms:
		overdue := o.AckOverdueMinutes
		if overdue <= 0 {
			overdue = DefaultAckOverdueMinutes
		}
		b.constant("ack_overdue_min", strconv.Itoa(overdue))
		b.multiVariable("site", "var_site.sql")
		alarms(b)
	default:
		return Dashboard{}, fmt.Errorf("unknown dashboard kind %q", kind)
	}
	if b.err != nil {
		return Dashboard{}, fmt.Errorf("dashboard %s: %w", d.UID, b.err)
	}
	tags := []any{ProductTag, ManagedTag, ParkTag(park), "lifeline-" + kind}
	d.Model = map[string]any{
		"uid":           d.UID,
		"title":         d.Title,
		"tags":          tags,
		"timezone":      "browser",
		"editable":      false,
		"graphTooltip":  1,
		"schemaVersion": schemaVersion,
		"refresh":       "30s",
		"time":          map[string]any{"from": "now-6h", "to": "now"},
		"templating":    map[string]any{"list": b.vars},
		"annotations":   map[string]any{"list": b.annos},
		"panels":        b.panels,
		"links": []any{map[string]any{
			"type": "dashboards", "tags": []any{ParkTag(park)}, "asDropdown": true,
			"title": tr(o.Lang, "links"), "includeVars": false, "keepTime": true,
		}},
	}
	return d, nil
}

func (b *builder) ds() map[string]any {
	return map[string]any{"type": DatasourceType, "uid": b.o.DatasourceUID}
}

// query reads an embedded SQL file and records it.
func (b *builder) query(name, file string, timeSeries bool) (string, bool) {
	data, err := sqlFiles.ReadFile("sql/" + file)
	if err != nil {
		b.fail(fmt.Errorf("%s: %w", name, err))
		return "", false
	}
	sql := string(data)
	first, _, _ := strings.Cut(sql, "\n")
	cols, ok := strings.CutPrefix(first, "-- columns:")
	if !ok {
		b.fail(fmt.Errorf("%s: sql/%s does not start with \"-- columns:\"", name, file))
		return "", false
	}
	var columns []string
	for _, c := range strings.Split(cols, ",") {
		columns = append(columns, strings.TrimSpace(c))
	}
	b.d.queries = append(b.d.queries, Query{Name: name, File: file, SQL: sql, Columns: columns, TimeSeries: timeSeries})
	return sql, true
}

func (b *builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// constant adds a hidden variable fixed at provisioning: the park, or the
// site of a per-site dashboard.
func (b *builder) constant(name, value string) {
	b.d.constants[name] = value
	b.vars = append(b.vars, map[string]any{
		"type": "constant", "name": name, "label": tr(b.o.Lang, "var."+name),
		"query": value, "hide": 2, "skipUrlSync": true,
		"current": map[string]any{"text": value, "value": value},
	})
}

// variable adds a single-value drop-down filled by a query.
func (b *builder) variable(name, file string) {
	sql, ok := b.query("variable "+name, file, false)
	if !ok {
		return
	}
	b.vars = append(b.vars, map[string]any{
		"type": "query", "name": name, "label": tr(b.o.Lang, "var."+name),
		"datasource": b.ds(),
		"query":      map[string]any{"rawSql": sql, "editorType": "sql", "format": formatTable},
		"definition": sql,
		"refresh":    1, "sort": 1, "multi": false, "includeAll": false, "hide": 0,
	})
}

// multiVariable adds a drop-down of several values with "All"; queries
// read it percent-encoded (see sql_escape_test.go): IN (SELECT arrayJoin(splitByChar(...)))
func (b *builder) multiVariable(name, file string) {
	b.variable(name, file)
	if b.err != nil {
		return
	}
	v := b.vars[len(b.vars)-1].(map[string]any)
	v["multi"], v["includeAll"] = true, true
	v["current"] = map[string]any{"text": []any{"All"}, "value": []any{"$__all"}}
}

// annotation overlays a query's time spans on every time-series panel.
func (b *builder) annotation(key, file, color string) {
	sql, ok := b.query("annotation "+key, file, false)
	if !ok {
		return
	}
	b.annos = append(b.annos, map[string]any{
		"name": tr(b.o.Lang, key), "enable": true, "iconColor": color, "datasource": b.ds(),
		"target": map[string]any{"refId": "Anno", "rawSql": sql, "editorType": "sql", "format": formatTable,
			"datasource": b.ds()},
	})
}

// panel describes one panel; add lays it out left to right.
type panel struct {
	typ   string
	key   string // title key in text
	file  string
	w, h  int
	unit  string
	field map[string]any // extra fieldConfig.defaults
	opts  map[string]any
	over  []any
	trans []any
}

func (b *builder) add(p panel) {
	ts := p.typ == "timeseries"
	title := tr(b.o.Lang, p.key)
	sql, ok := b.query("panel "+p.key, p.file, ts)
	if !ok {
		return
	}
	if b.x+p.w > gridWidth {
		b.x, b.y, b.h = 0, b.y+b.h, 0
	}
	b.nextID++
	format, qtype := formatTable, "table"
	if ts {
		format, qtype = formatTimeSeries, "timeseries"
	}
	defaults := map[string]any{}
	if p.unit != "" {
		defaults["unit"] = p.unit
	}
	for k, v := range p.field {
		defaults[k] = v
	}
	over := p.over
	if over == nil {
		over = []any{}
	}
	opts := p.opts
	if opts == nil {
		opts = map[string]any{}
	}
	m := map[string]any{
		"id": b.nextID, "type": p.typ, "title": title, "datasource": b.ds(),
		"gridPos":     map[string]any{"x": b.x, "y": b.y, "w": p.w, "h": p.h},
		"fieldConfig": map[string]any{"defaults": defaults, "overrides": over},
		"options":     opts,
		"targets": []any{map[string]any{
			"refId": "A", "datasource": b.ds(), "editorType": "sql", "rawSql": sql,
			"format": format, "queryType": qtype, "pluginVersion": pluginVersion,
		}},
	}
	if p.trans != nil {
		m["transformations"] = p.trans
	}
	b.panels = append(b.panels, m)
	b.x += p.w
	b.h = max(b.h, p.h)
}

// rename gives each column its translated display name.
func (b *builder) rename(cols ...string) []any {
	names := map[string]any{}
	for _, c := range cols {
		names[c] = tr(b.o.Lang, "col."+c)
	}
	return []any{map[string]any{"id": "organize", "options": map[string]any{"renameByName": names}}}
}

// valueMap maps raw values to translated, coloured text.
func (b *builder) valueMap(prefix string, colors map[string]string) map[string]any {
	opts := map[string]any{}
	i := 0
	for _, v := range sortedKeys(colors) {
		opts[v] = map[string]any{"text": tr(b.o.Lang, prefix+"."+v), "color": colors[v], "index": i}
		i++
	}
	return map[string]any{"type": "value", "options": opts}
}

// colored is a table-column override that maps and colours its values.
func colored(column string, mapping map[string]any) map[string]any {
	return map[string]any{
		"matcher": map[string]any{"id": "byName", "options": column},
		"properties": []any{
			map[string]any{"id": "mappings", "value": []any{mapping}},
			map[string]any{"id": "custom.cellOptions", "value": map[string]any{"type": "color-background"}},
		},
	}
}

func unitOverride(column, unit string) map[string]any {
	return map[string]any{
		"matcher":    map[string]any{"id": "byName", "options": column},
		"properties": []any{map[string]any{"id": "unit", "value": unit}},
	}
}

// stateColors colour a point's state: stage 2 and HH/LL red, stage 1 and
// H/L orange.
var stateColors = map[string]string{
	"OK": green, "H": orange, "L": orange, "S1": orange, "HH": red, "LL": red, "S2": red,
	"OOS": grey, "NODATA": grey, "bad_quality": grey, "stale": grey,
}

// levelColors colour a hazard source's level (GB 18218: 1 is the most
// severe): red, orange, yellow, blue.
var levelColors = map[string]string{"1": red, "2": orange, "3": yellow, "4": blue}

var onlineColors = map[string]string{"1": green, "0": red}

// priorityColors colour alarm priorities, 1 the most urgent.
var priorityColors = map[string]string{"1": red, "2": orange, "3": yellow, "4": blue}

// ackColors colour an alarm's acknowledgement: overdue red, waiting
// orange, shelved grey, done green.
var ackColors = map[string]string{"overdue": red, "unacknowledged": orange, "shelved": grey, "acknowledged": green, "closed": green}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
