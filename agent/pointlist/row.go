package pointlist

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

type parser struct {
	list    *List
	cols    []column
	headers []string
	hazards map[string]int // code → index in list.HazardSources
	ids     map[string]int // point ID → row
	errs    []error
}

func (p *parser) fail(row, i int, format string, args ...any) {
	col := ""
	if i >= 0 {
		col = p.headers[i]
	}
	p.errs = append(p.errs, &CellError{Row: row, Column: col, Msg: fmt.Sprintf(format, args...)})
}

// draft is one row being read: the point, and the cells that are checked
// together once the whole row is read.
type draft struct {
	n      int // row number
	pt     config.Point
	source string

	lo, hi *float64
	loCol  int

	limits     config.Limits
	haveLimits bool

	hzCode, hzName, hzLevel string
	hzCol, hzLevelCol       int
}

// row reads one record into a point. Each cell is read by the group of
// columns it belongs to; then the cells that depend on each other are
// checked in column-group order.
func (p *parser) row(n int, rec []string) {
	if blank(rec) {
		return
	}
	d := &draft{n: n, loCol: -1, hzCol: -1, hzLevelCol: -1}
	for i, c := range p.cols {
		if i >= len(rec) || c == colNone || c == colInfo {
			continue
		}
		v := strings.TrimSpace(rec[i])
		if v == "" {
			continue
		}
		switch {
		case p.identityCell(d, c, i, v):
		case p.limitCell(d, c, i, v):
		case hazardCell(d, c, i, v):
		default:
			p.sourceCell(d, c, i, v)
		}
	}
	p.checkIdentity(d)
	p.checkLimits(d)
	p.checkKind(d)
	p.checkHazard(d)
	p.list.Points = append(p.list.Points, d.pt)
	p.list.Sources = append(p.list.Sources, d.source)
}

func blank(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// num reads a number cell; thousands separators are allowed.
func (p *parser) num(n, i int, v string) *float64 {
	f, err := strconv.ParseFloat(strings.ReplaceAll(v, ",", ""), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		p.fail(n, i, "%q is not a number", v)
		return nil
	}
	return &f
}

// identityCell reads what the point is: 位号, name, description, unit,
// kind, equipment, 停用. It reports whether c is one of those columns.
func (p *parser) identityCell(d *draft, c column, i int, v string) bool {
	n, pt := d.n, &d.pt
	switch c {
	case colID:
		pt.ID = v
		if err := config.ValidateID(v); err != nil {
			p.fail(n, i, "%v", err)
		} else if prev, dup := p.ids[v]; dup {
			p.fail(n, i, "point %s is already on row %d", v, prev)
		} else {
			p.ids[v] = n
		}
	case colName:
		pt.Name = v
	case colDescription:
		pt.Description = v
	case colUnit:
		pt.Unit = v
	case colKind:
		k := v
		if mapped, ok := kinds[v]; ok {
			k = mapped
		}
		k = strings.ToLower(k)
		if !slices.Contains(config.Kinds, k) {
			p.fail(n, i, "%q: want one of %s (or 液位, 温度, 压力, 流量, 可燃气体, 有毒气体, 氧气, 开关)", v, strings.Join(config.Kinds, ", "))
		}
		pt.Kind = k
	case colEquipment:
		pt.Equipment = v
	case colOutOfService:
		switch strings.ToLower(v) {
		case "是", "停用", "y", "yes", "true", "1", "x", "√":
			pt.OutOfService = true
		case "否", "在用", "n", "no", "false", "0":
		default:
			p.fail(n, i, "%q: want 是/否 (yes/no)", v)
		}
	default:
		return false
	}
	return true
}

// limitCell reads the measuring range and the alarm limits. It reports
// whether c is one of those columns.
func (p *parser) limitCell(d *draft, c column, i int, v string) bool {
	switch c {
	case colRangeLow:
		d.lo, d.loCol = p.num(d.n, i, v), i
	case colRangeHigh:
		d.hi = p.num(d.n, i, v)
	case colLL, colL, colH, colHH, colStage1, colStage2:
		f := p.num(d.n, i, v)
		if f == nil {
			return true
		}
		d.haveLimits = true
		*limitField(&d.limits, c) = f
	case colDeadband:
		if f := p.num(d.n, i, v); f != nil {
			if *f < 0 {
				p.fail(d.n, i, "%q: want >= 0", v)
			}
			d.limits.Deadband = *f
			d.haveLimits = true
		}
	default:
		return false
	}
	return true
}

// limitField is the field of l that column c fills.
func limitField(l *config.Limits, c column) **float64 {
	switch c {
	case colLL:
		return &l.LowLow
	case colL:
		return &l.Low
	case colH:
		return &l.High
	case colHH:
		return &l.HighHigh
	case colStage1:
		return &l.Stage1
	default:
		return &l.Stage2
	}
}

// hazardCell reads the major hazard source columns (code, name, level),
// checked together by checkHazard. It reports whether c is one of them.
func hazardCell(d *draft, c column, i int, v string) bool {
	switch c {
	case colHazardCode:
		d.hzCode, d.hzCol = v, i
	case colHazardName:
		d.hzName = v
	case colHazardLevel:
		d.hzLevel, d.hzLevelCol = v, i
	default:
		return false
	}
	return true
}

// sourceCell reads where and how the point is read over OPC UA: 节点,
// 数据源, sampling interval and data deadband.
func (p *parser) sourceCell(d *draft, c column, i int, v string) {
	n, pt := d.n, &d.pt
	switch c {
	case colNode:
		pt.Node = v
		if err := config.ValidateNodeID(v); err != nil {
			p.fail(n, i, "%v", err)
		}
	case colSource:
		d.source = v
	case colSamplingInterval:
		iv, err := parseInterval(v)
		if err != nil {
			p.fail(n, i, "%q: want a duration such as 500ms, 1s or a number of milliseconds", v)
		}
		pt.SamplingInterval = config.Duration(iv)
	case colDataDeadband:
		db := &config.DataDeadband{Type: "absolute"}
		s := v
		if t, ok := strings.CutSuffix(s, "%"); ok {
			db.Type, s = "percent", strings.TrimSpace(t)
		}
		if f := p.num(n, i, s); f != nil {
			db.Value = *f
			if *f < 0 || (db.Type == "percent" && *f > 100) {
				p.fail(n, i, "%q: want >= 0 (percent at most 100%%)", v)
			}
		}
		pt.Deadband = db
	}
}

// checkIdentity requires the two columns every point needs.
func (p *parser) checkIdentity(d *draft) {
	if d.pt.ID == "" {
		p.fail(d.n, -1, "no 位号 (id): every point needs one")
	}
	if d.pt.Node == "" {
		p.fail(d.n, -1, "no 节点 (node) for point %q", d.pt.ID)
	}
}

// checkLimits checks the range and the limits as a whole.
func (p *parser) checkLimits(d *draft) {
	pt, lo, hi := &d.pt, d.lo, d.hi
	if lo != nil || hi != nil {
		switch {
		case lo == nil || hi == nil:
			p.fail(d.n, d.loCol, "give both 量程下限 and 量程上限 (range low and high), or neither")
		case !(*lo < *hi):
			p.fail(d.n, d.loCol, "range %g..%g: want low < high", *lo, *hi)
		default:
			pt.Range = &config.Range{Low: *lo, High: *hi}
		}
	}
	if d.haveLimits {
		pt.Limits = &d.limits
		if err := d.limits.Validate(); err != nil {
			p.fail(d.n, -1, "alarm limits: %v", err)
		}
	}
}

// checkKind finds the point's kind by kindRules when no 类型 (kind) is
// given, and warns, naming the row, when the rules find none or the
// row's unit, name, tag and limits disagree.
func (p *parser) checkKind(d *draft) {
	kind, warns := kindOf(&d.pt, d.pt.Limits)
	d.pt.Kind = kind
	for _, w := range warns {
		p.list.Warnings = append(p.list.Warnings, fmt.Sprintf("row %d, %s", d.n, w))
	}
}

// checkHazard records the row's hazard source, which needs its code.
func (p *parser) checkHazard(d *draft) {
	if d.hzCode != "" {
		d.pt.HazardSource = d.hzCode
		p.hazard(d.n, d.hzCol, d.hzLevelCol, d.hzCode, d.hzName, d.hzLevel)
	} else if d.hzName != "" || d.hzLevel != "" {
		p.fail(d.n, -1, "重大危险源名称/等级 given without 重大危险源编码 (hazard source code)")
	}
}

// hazard records a hazard source; rows naming the same code must agree.
func (p *parser) hazard(n, codeCol, levelCol int, code, name, level string) {
	h := config.HazardSource{Code: code, Name: name}
	if level != "" {
		lv, err := parseLevel(level)
		if err != nil {
			p.fail(n, levelCol, "%q: want 1..4 (一级…四级, GB 18218)", level)
		}
		h.Level = lv
	}
	i, ok := p.hazards[code]
	if !ok {
		p.hazards[code] = len(p.list.HazardSources)
		p.list.HazardSources = append(p.list.HazardSources, h)
		return
	}
	prev := &p.list.HazardSources[i]
	if prev.Name == "" {
		prev.Name = h.Name
	}
	if prev.Level == 0 {
		prev.Level = h.Level
	}
	if (h.Name != "" && h.Name != prev.Name) || (h.Level != 0 && h.Level != prev.Level) {
		p.fail(n, codeCol, "hazard source %s is %q level %d on an earlier row, %q level %d here", code, prev.Name, prev.Level, h.Name, h.Level)
	}
}

// parseLevel reads a GB 18218 level: 1..4, 一级…四级, 一…四.
func parseLevel(s string) (int, error) {
	s = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(s), "级"), "重大危险源")
	for i, c := range []string{"一", "二", "三", "四"} {
		if s == c {
			return i + 1, nil
		}
	}
	lv, err := strconv.Atoi(s)
	if err != nil || lv < 1 || lv > 4 {
		return 0, errors.New("bad level")
	}
	return lv, nil
}

// parseInterval reads "500ms", "1s" or a bare number of milliseconds.
func parseInterval(s string) (time.Duration, error) {
	if ms, err := strconv.ParseFloat(s, 64); err == nil {
		if ms < 0 || ms > 1e9 {
			return 0, errors.New("out of range")
		}
		return time.Duration(ms * float64(time.Millisecond)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.New("bad duration")
	}
	return d, nil
}
