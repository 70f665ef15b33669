package pointlist

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// kindRow is one row of a point list and what the kind rules make of it.
type kindRow struct {
	id, name, desc, unit, kind string
	limits                     string // "h" (高报/高高报), "stage" (一级/二级), "both" or ""
	want                       string // the kind
	warn                       string // part of the row's warning; "" for none
}

var kindRows = []kindRow{
	// Levels: in m or in % (the unit then says nothing; the name does).
	{"LT-101", "1号甲醇储罐液位", "雷达液位计", "m", "", "h", "level", ""},
	{"LT-102", "2号储罐液位", "", "%", "", "h", "level", ""},
	{"LI-103", "Tank 3 level", "", "%", "", "", "level", ""},
	{"T104.LT", "", "", "mm", "", "", "level", ""},
	{"LT-105", "液氨储罐液位", "", "m", "", "", "level", ""}, // 氨 names a gas, but this is no gas detector
	{"X-106", "", "radar level gauge, north tank", "", "", "", "level", ""},
	// Gas detectors: the unit decides, the name says which gas for %VOL.
	{"AT-201", "氨气检测器", "", "ppm", "", "stage", "gas_toxic", ""},
	{"GD-202", "H2S detector", "", "ppm", "", "stage", "gas_toxic", ""},
	{"X-203", "3号报警点", "", "ppm", "", "stage", "gas_toxic", ""},
	{"AT-204", "氯气检测", "", "mg/m3", "", "h", "gas_toxic", ""},
	{"GT-205", "罐区可燃气体检测器", "北侧, 靠近泵房", "%LEL", "", "stage", "gas_combustible", ""},
	{"GT-206", "LEL detector", "", "％ＬＥＬ", "", "stage", "gas_combustible", ""},
	{"AT-207", "氧含量", "", "%VOL", "", "h", "gas_oxygen", ""},
	{"AT-208", "O2 analyser", "", "% vol", "", "", "gas_oxygen", ""},
	{"AT-209", "甲烷浓度", "", "%VOL", "", "stage", "gas_combustible", ""},
	{"AT-210", "CO浓度", "", "", "", "stage", "gas_toxic", ""},
	{"AT-211", "分析仪", "", "%VOL", "", "", "", "row 18, point AT-211: kind unknown: a gas detector by unit %VOL, but nothing says which gas"},
	{"AT-212", "CO2含量", "", "", "", "stage", "", "row 19, point AT-212: kind unknown: a gas detector by tag AT, but nothing says which gas"},
	{"GT-213", "", "", "", "", "stage", "", "kind unknown: a gas detector by tag GT"},
	// Temperatures, pressures, flows.
	{"TT-301", "反应釜温度", "", "℃", "", "h", "temperature", ""},
	{"TI-302", "Reactor temperature", "", "°C", "", "", "temperature", ""},
	{"TE-303", "", "", "K", "", "", "temperature", ""},
	{"R101.TT", "压力容器温度", "", "℃", "", "", "temperature", ""}, // the name ends with what is measured
	{"PI-401", "出口压力", "", "kPa(G)", "", "h", "pressure", ""},
	{"PDT-402", "过滤器差压", "", "kPa", "", "", "pressure", ""},
	{"PT-403", "Discharge pressure", "", "MPa", "", "", "pressure", ""},
	{"FT-501", "进料流量", "", "m3/h", "", "", "flow", ""},
	{"FIQ-502", "Steam flow", "", "t/h", "", "", "flow", ""},
	{"FT-503", "", "", "Nm3/h", "", "", "flow", ""},
	// Switches, states, analog values.
	{"LSH-601", "液位开关", "", "", "", "", "switch", ""},
	{"P-602.RUN", "泵运行状态", "", "", "", "", "status", ""},
	{"XI-603", "阀位反馈", "", "%", "", "h", "analog", ""},
	// An explicit kind always wins; a row that says otherwise warns.
	{"T101.LT2", "1号储罐液位", "", "m", "液位", "h", "level", ""},
	{"XT-701", "液位", "", "", "压力", "", "pressure", "row 35, point XT-701: kind pressure as given in 类型 (kind), although name 液位 says level"},
	{"GT-702", "可燃气体", "", "%LEL", "gas_toxic", "stage", "gas_toxic", "although unit %LEL says gas_combustible, name 可燃 says gas_combustible"},
	// Conflicts: the documented precedence decides, the row warns.
	{"LT-801", "1号罐液位", "", "%LEL", "", "", "gas_combustible", "row 37, point LT-801: kind gas_combustible by unit %LEL, although name 液位 says level, tag LT says level; the unit decides"},
	{"LT-802", "2号罐液位", "", "m", "", "stage", "level", "row 38, point LT-802: kind level by unit m, although limits 一级/二级报警 says a gas detector; the unit decides"},
	{"PT-803", "温度", "", "", "", "", "temperature", "kind temperature by name 温度, although tag PT says pressure; the name decides"},
	// Nothing to go by.
	{"X-901", "备用", "", "", "", "", "", "row 40, point X-901: kind unknown: no rule matches its unit \"\", name, tag or limit columns; set 类型 (kind)"},
	{"X-902", "", "", "A", "", "", "", "row 41, point X-902: kind unknown: no rule matches its unit \"A\""},
	{"X-903", "3号报警点", "", "", "", "stage", "", "row 42, point X-903: kind unknown: a gas detector by limits 一级/二级报警, but nothing says which gas (可燃/有毒/氧, %LEL/ppm); set 类型 (kind)"},
}

// kindCSV is kindRows as a point list; row i of kindRows is spreadsheet
// row i+2.
func kindCSV() string {
	var b strings.Builder
	b.WriteString("位号,名称,描述,单位,类型,节点,高报,高高报,一级报警,二级报警\r\n")
	for _, r := range kindRows {
		h, s := ",", ","
		switch r.limits {
		case "h":
			h = "8,9"
		case "stage":
			s = "25,50"
		}
		desc := r.desc
		if strings.Contains(desc, ",") {
			desc = `"` + desc + `"`
		}
		b.WriteString(strings.Join([]string{r.id, r.name, desc, r.unit, r.kind, "nsu=urn:x;s=" + r.id, h, s}, ",") + "\r\n")
	}
	return b.String()
}

// Every row goes through the same rules: the kind and the warning (or
// none) are as the table says, and each warning names its row and point.
func TestKindRules(t *testing.T) {
	l, err := Parse([]byte(kindCSV()))
	if err != nil {
		t.Fatal(err)
	}
	checkKinds(t, l)
}

func checkKinds(t *testing.T, l *List) {
	t.Helper()
	if len(l.Points) != len(kindRows) {
		t.Fatalf("%d points, want %d", len(l.Points), len(kindRows))
	}
	warned := map[string]string{}
	for _, w := range l.Warnings {
		for i, r := range kindRows {
			if strings.HasPrefix(w, "row "+strconv.Itoa(i+2)+", point "+r.id+": kind ") {
				if warned[r.id] != "" {
					t.Errorf("%s: two warnings: %q and %q", r.id, warned[r.id], w)
				}
				warned[r.id] = w
			}
		}
	}
	n := 0
	for i, r := range kindRows {
		p := l.Points[i]
		if p.ID != r.id || p.Kind != r.want {
			t.Errorf("row %d %s: kind %q, want %q", i+2, p.ID, p.Kind, r.want)
		}
		w := warned[r.id]
		switch {
		case r.warn == "" && w != "":
			t.Errorf("row %d %s: unexpected warning %q", i+2, r.id, w)
		case r.warn != "" && !strings.Contains(w, r.warn):
			t.Errorf("row %d %s: warning %q, want it to contain %q", i+2, r.id, w, r.warn)
		}
		if w != "" {
			n++
		}
	}
	if n != len(l.Warnings) {
		t.Errorf("warnings that name no row of the table: %q", l.Warnings)
	}
}

// The same rows saved by Excel on Chinese Windows (GBK) give the same
// kinds and the same warnings.
func TestKindRulesGBK(t *testing.T) {
	data, err := os.ReadFile("testdata/points-kinds-gbk.csv")
	if err != nil {
		t.Fatal(err)
	}
	text, enc, err := Decode(data)
	if err != nil || enc != GB18030 || text != kindCSV() {
		t.Fatalf("testdata/points-kinds-gbk.csv is not kindRows in GBK (%s, %v)", enc, err)
	}
	gbk, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	checkKinds(t, gbk)
	utf, _ := Parse([]byte(kindCSV()))
	if !reflect.DeepEqual(gbk.Points, utf.Points) || !reflect.DeepEqual(gbk.Warnings, utf.Warnings) {
		t.Error("GBK and UTF-8 lists give different points or warnings")
	}
}

// docs/agent.md's rule table is kindRules: one line per rule, in order.
func TestKindRulesDocumented(t *testing.T) {
	data, err := os.ReadFile("../../docs/agent.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	last := -1
	for _, r := range kindRules {
		line := docRuleLine(r)
		i := strings.Index(doc, line)
		if i < 0 {
			t.Errorf("docs/agent.md lacks the rule line\n%s", line)
			continue
		}
		if i < last {
			t.Errorf("docs/agent.md: rule line out of order: %s", line)
		}
		last = i
	}
}

// docRuleLine is how docs/agent.md writes a rule.
func docRuleLine(r kindRule) string {
	keys := make([]string, len(r.keys))
	for i, k := range r.keys {
		keys[i] = "`" + k + "`"
	}
	kind := "`" + r.kind + "`"
	if r.kind == familyGas {
		kind = "a gas detector: which gas, see below"
	}
	return "| " + r.from.String() + " | " + strings.Join(keys, " ") + " | " + kind + " |"
}
