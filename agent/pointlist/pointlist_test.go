package pointlist

import (
	"bytes"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

func load(t *testing.T, name string) *List {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return l
}

func f(v float64) *float64 { return &v }

func TestChineseHeadersUTF8AndGBK(t *testing.T) {
	utf := load(t, "points-zh.csv")
	gbk := load(t, "points-gbk.csv")
	if utf.Encoding != UTF8 || gbk.Encoding != GB18030 {
		t.Fatalf("encodings %s %s", utf.Encoding, gbk.Encoding)
	}
	if !reflect.DeepEqual(utf.Points, gbk.Points) || !reflect.DeepEqual(utf.HazardSources, gbk.HazardSources) {
		t.Fatalf("GBK and UTF-8 files differ:\n%+v\n%+v", utf.Points, gbk.Points)
	}
	p := utf.Points[0]
	want := config.Point{
		ID: "T101.LT", Name: "1号甲醇储罐液位", Description: "雷达液位计", Unit: "m", Kind: "level",
		Node: "nsu=urn:vendor:dcs;s=T101.LT", Range: &config.Range{Low: 0, High: 20},
		Limits:       &config.Limits{LowLow: f(1), Low: f(2), High: f(16), HighHigh: f(18)},
		HazardSource: "HS-01", Equipment: "T101",
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("row 2:\n got %+v\nwant %+v", p, want)
	}
	if g := utf.Points[2]; g.Kind != "gas_combustible" || *g.Limits.Stage1 != 25 || *g.Limits.Stage2 != 50 || g.Description != "北侧, 靠近泵房" {
		t.Errorf("gas detector row: %+v %+v", g, g.Limits)
	}
	if g := utf.Points[3]; g.Kind != "gas_toxic" || !g.OutOfService || utf.Points[1].Unit != "℃" {
		t.Errorf("toxic row: %+v", g)
	}
	wantHS := []config.HazardSource{{Code: "HS-01", Name: "甲醇储罐区", Level: 2}, {Code: "HS-02", Name: "氯化工艺装置", Level: 1}}
	if !reflect.DeepEqual(utf.HazardSources, wantHS) {
		t.Errorf("hazard sources %+v", utf.HazardSources)
	}
	if len(utf.Warnings) != 0 {
		t.Errorf("warnings: %v", utf.Warnings)
	}
}

func TestEnglishHeaders(t *testing.T) {
	l := load(t, "points-en.csv")
	if len(l.Points) != 2 || l.Sources[0] != "dcs" || l.Sources[1] != "plc" {
		t.Fatalf("%+v %v", l.Points, l.Sources)
	}
	p := l.Points[0]
	if p.SamplingInterval.D().String() != "1s" || p.Deadband == nil || *p.Deadband != (config.DataDeadband{Type: "percent", Value: 0.5}) {
		t.Errorf("sampling/deadband: %v %+v", p.SamplingInterval, p.Deadband)
	}
	if l.Points[1].SamplingInterval.D().String() != "500ms" || l.Points[1].Node != "nsu=urn:vendor:plc;i=1001" {
		t.Errorf("row 3: %+v", l.Points[1])
	}
}

// Every error names the row as a spreadsheet numbers it and the column as
// written in the header; all of them are reported at once.
func TestErrorsNameRowAndColumn(t *testing.T) {
	data, err := os.ReadFile("testdata/points-bad.csv")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(data)
	if err == nil {
		t.Fatal("bad list accepted")
	}
	for _, want := range []string{
		`row 2, column 量程上限(m): "abc" is not a number`,
		`row 2, column 重大危险源等级: "5": want 1..4`,
		`row 3, column 位号: point T1 is already on row 2`,
		`row 3, column 节点: "ns=2;s=T2" uses a namespace index`,
		`row 3: alarm limits: want ll <= l <= h <= hh`,
		`row 4, column 位号: "bad id": no spaces`,
		`row 4, column 类型: "压力表": want one of`,
		`row 4, column 量程下限(m): range 10..0: want low < high`,
		`row 5: no 位号 (id)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestHeaderProblems(t *testing.T) {
	tests := []struct{ csv, want string }{
		{"", "row 1: empty file"},
		{"名称,单位\nx,m\n", "row 1: missing column 位号(id)"},
		{"位号,tag,节点\nA,B,nsu=u;s=x\n", "row 1, column tag: same meaning as column 位号"},
		{"位号,节点\n", "row 2: no points below the header"},
		{"位号,节点\n\"A,nsu=u;s=x\n", "row 2"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.csv))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want %q", tt.csv, err, tt.want)
		}
	}
	l, err := Parse([]byte("位号 (Tag),ＮＯＤＥ,扩展字段\nA,nsu=u;s=x,1\n"))
	if err != nil || len(l.Warnings) != 2 || !strings.Contains(l.Warnings[0], "column C") || !strings.HasPrefix(l.Warnings[1], "row 2, point A: kind unknown") {
		t.Errorf("folded headers / unknown column: %v %v", err, l)
	}
}

// A template written from a browse imports back to the same nodes, names,
// units and ranges, with Chinese text intact.
func TestTemplateRoundTrip(t *testing.T) {
	rows := []TemplateRow{
		{Node: "nsu=urn:vendor:dcs;s=T101.LT", Path: "Plant/T101/LT", Name: "1号储罐液位", DataType: "Double", Unit: "m", Range: &config.Range{Low: 0, High: 20}},
		{Node: "nsu=urn:vendor:dcs;i=5001", Path: "Plant/储罐 2/液位", Name: "2号储罐液位", DataType: "Float"},
		{Node: "nsu=urn:vendor:dcs;s=T101.LT", Path: "dup", Name: "dup"},
	}
	var buf bytes.Buffer
	if err := WriteTemplate(&buf, rows); err != nil {
		t.Fatal(err)
	}
	l, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatalf("template does not import: %v\n%s", err, buf.String())
	}
	if len(l.Points) != 3 {
		t.Fatalf("%d points", len(l.Points))
	}
	for i, p := range l.Points {
		if p.Node != rows[i].Node || p.Name != rows[i].Name || p.Unit != rows[i].Unit || !reflect.DeepEqual(p.Range, rows[i].Range) {
			t.Errorf("row %d: %+v", i+2, p)
		}
	}
	if l.Points[0].ID != "T101.LT" || l.Points[1].ID != "Plant.储罐_2.液位" || l.Points[2].ID != "T101.LT_2" {
		t.Errorf("suggested IDs: %s %s %s", l.Points[0].ID, l.Points[1].ID, l.Points[2].ID)
	}
}

// FuzzParse: any bytes give an error or points that pass the agent's
// validation of IDs, nodes, ranges and limits; never a panic.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"points-zh.csv", "points-gbk.csv", "points-en.csv", "points-bad.csv", "points-kinds-gbk.csv"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	// Every column group, with good and bad cells: limits out of order,
	// deadbands in percent, intervals, 停用, a hazard source without code.
	f.Add([]byte("id,node,ll,l,h,hh,stage1,stage2,alarm_deadband,deadband,sampling_interval,out_of_service,hazard_name,hazard_level,unit,kind\n" +
		"A,i=1,1,2,3,4,5,6,0.5,5%,100,yes,,,%LEL,\n" +
		"B,i=2,4,3,2,1,,,-1,150%,x,maybe,n,x,,温度\n"))
	f.Add([]byte("位号,节点,量程下限,量程上限,重大危险源编码,重大危险源名称,重大危险源等级\nT1,i=1,0,10,HS1,罐区,二级\nT2,i=2,10,0,HS1,罐区,3\n"))
	// Kind rules: every place of the row, agreeing, disagreeing, silent.
	f.Add([]byte(kindCSV()))
	f.Add([]byte("位号,名称,描述,单位,类型,节点,一级,二级,高报\n" +
		"LT-1,1号罐液位,,%LEL,,i=1,25,50,\n" +
		"AT-2,氧含量,,％ｖｏｌ,,i=2,,,23.5\n" +
		"101-FT-003A,Steam flow,overflow CO2,t/h,,i=3,,,9\n" +
		"GD4,,硫化氢 H2S,,,i=4,10,20,\n" +
		"T5.PDT,温度压力,,kPa(G),,i=5,,,\n" +
		"X6,,,,,i=6,,,\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(data)
		if err != nil {
			return
		}
		for _, p := range l.Points {
			// A kind is one the agent accepts, or none, and then a warning
			// names the row's point.
			if p.Kind != "" && !slices.Contains(config.Kinds, p.Kind) {
				t.Fatalf("kind %q for %+v", p.Kind, p)
			}
			if p.Kind == "" && !slices.ContainsFunc(l.Warnings, func(w string) bool {
				return strings.Contains(w, ", point "+p.ID+": kind unknown")
			}) {
				t.Fatalf("point %s without kind or warning: %q", p.ID, l.Warnings)
			}
			if config.ValidateID(p.ID) != nil || config.ValidateNodeID(p.Node) != nil {
				t.Fatalf("accepted invalid point %+v", p)
			}
			if p.Range != nil && !(p.Range.Low < p.Range.High) {
				t.Fatalf("accepted range %+v", p.Range)
			}
			if p.Limits != nil && p.Limits.Validate() != nil {
				t.Fatalf("accepted limits %+v", p.Limits)
			}
		}
	})
}
