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

func (p *parser) row(n int, rec []string) {
	blank := true
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			blank = false
		}
	}
	if blank {
		return
	}
	var pt config.Point
	var source, hzCode, hzName, hzLevel string
	hzCol, hzLevelCol := -1, -1
	var limits config.Limits
	var haveLimits bool
	var lo, hi *float64
	loCol := -1
	num := func(i int, v string) *float64 {
		f, err := strconv.ParseFloat(strings.ReplaceAll(v, ",", ""), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			p.fail(n, i, "%q is not a number", v)
			return nil
		}
		return &f
	}
	for i, c := range p.cols {
		if i >= len(rec) || c == colNone || c == colInfo {
			continue
		}
		v := strings.TrimSpace(rec[i])
		if v == "" {
			continue
		}
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
		case colNode:
			pt.Node = v
			if err := config.ValidateNodeID(v); err != nil {
				p.fail(n, i, "%v", err)
			}
		case colSource:
			source = v
		case colRangeLow:
			lo, loCol = num(i, v), i
		case colRangeHigh:
			hi = num(i, v)
		case colLL, colL, colH, colHH, colStage1, colStage2:
			f := num(i, v)
			if f == nil {
				continue
			}
			haveLimits = true
			switch c {
			case colLL:
				limits.LowLow = f
			case colL:
				limits.Low = f
			case colH:
				limits.High = f
			case colHH:
				limits.HighHigh = f
			case colStage1:
				limits.Stage1 = f
			case colStage2:
				limits.Stage2 = f
			}
		case colDeadband:
			if f := num(i, v); f != nil {
				if *f < 0 {
					p.fail(n, i, "%q: want >= 0", v)
				}
				limits.Deadband = *f
				haveLimits = true
			}
		case colHazardCode:
			hzCode, hzCol = v, i
		case colHazardName:
			hzName = v
		case colHazardLevel:
			hzLevel, hzLevelCol = v, i
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
		case colSamplingInterval:
			d, err := parseInterval(v)
			if err != nil {
				p.fail(n, i, "%q: want a duration such as 500ms, 1s or a number of milliseconds", v)
			}
			pt.SamplingInterval = config.Duration(d)
		case colDataDeadband:
			db := &config.DataDeadband{Type: "absolute"}
			s := v
			if t, ok := strings.CutSuffix(s, "%"); ok {
				db.Type, s = "percent", strings.TrimSpace(t)
			}
			if f := num(i, s); f != nil {
				db.Value = *f
				if *f < 0 || (db.Type == "percent" && *f > 100) {
					p.fail(n, i, "%q: want >= 0 (percent at most 100%%)", v)
				}
			}
			pt.Deadband = db
		}
	}
	if pt.ID == "" {
		p.fail(n, -1, "no 位号 (id): every point needs one")
	}
	if pt.Node == "" {
		p.fail(n, -1, "no 节点 (node) for point %q", pt.ID)
	}
	if lo != nil || hi != nil {
		switch {
		case lo == nil || hi == nil:
			p.fail(n, loCol, "give both 量程下限 and 量程上限 (range low and high), or neither")
		case !(*lo < *hi):
			p.fail(n, loCol, "range %g..%g: want low < high", *lo, *hi)
		default:
			pt.Range = &config.Range{Low: *lo, High: *hi}
		}
	}
	if haveLimits {
		pt.Limits = &limits
		if err := limits.Validate(); err != nil {
			p.fail(n, -1, "alarm limits: %v", err)
		}
	}
	if pt.Kind == "" && strings.Contains(strings.ToUpper(pt.Unit), "LEL") {
		pt.Kind = "gas_combustible"
	}
	if hzCode != "" {
		pt.HazardSource = hzCode
		p.hazard(n, hzCol, hzLevelCol, hzCode, hzName, hzLevel)
	} else if hzName != "" || hzLevel != "" {
		p.fail(n, -1, "重大危险源名称/等级 given without 重大危险源编码 (hazard source code)")
	}
	p.list.Points = append(p.list.Points, pt)
	p.list.Sources = append(p.list.Sources, source)
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
