// Package pointlist reads a plant's point list (点表) from CSV into the
// agent's point configuration, and writes point-list templates from a
// browse of an OPC UA server.
//
// A point list is what plants keep in Excel: one row per point, headers in
// Chinese or English (位号/id, 描述/description, 单位/unit, 量程下限/上限,
// 低低报/低报/高报/高高报, 一级/二级报警 for gas detectors, 重大危险源编码/
// 名称/等级, 设备, 节点…). Excel on Chinese Windows saves CSV as GBK, so
// the encoding is detected: UTF-8 (with or without BOM), else GB18030 (a
// superset of GBK).
package pointlist

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// Encoding names the character encoding a list was read in.
type Encoding string

const (
	UTF8    Encoding = "UTF-8"
	GB18030 Encoding = "GB18030"
)

// List is an imported point list.
type List struct {
	Encoding Encoding
	// Points in row order; Sources[i] is the 数据源/source column of
	// Points[i] (empty when the list has no such column).
	Points  []config.Point
	Sources []string
	// HazardSources are the major hazard sources named in the list, in
	// order of first appearance.
	HazardSources []config.HazardSource
	// Warnings are things that did not stop the import, such as columns
	// that were not recognised.
	Warnings []string
}

// CellError names the row (as a spreadsheet numbers it: the header is
// row 1) and column of a problem.
type CellError struct {
	Row    int
	Column string // the header as written in the file; empty for a whole row
	Msg    string
}

func (e *CellError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("row %d: %s", e.Row, e.Msg)
	}
	return fmt.Sprintf("row %d, column %s: %s", e.Row, e.Column, e.Msg)
}

// Decode converts data to UTF-8: a UTF-8 BOM is dropped; text that is not
// valid UTF-8 is decoded as GB18030.
func Decode(data []byte) (string, Encoding, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if utf8.Valid(data) {
		return string(data), UTF8, nil
	}
	out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
	if err != nil || !utf8.Valid(out) {
		return "", "", errors.New("the file is neither UTF-8 nor GBK/GB18030 text")
	}
	return string(out), GB18030, nil
}

// Parse reads a point list. Every problem is reported (errors.Join of
// *CellError), not just the first.
func Parse(data []byte) (*List, error) {
	text, enc, err := Decode(data)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	records, err := r.ReadAll()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, &CellError{Row: pe.StartLine, Msg: pe.Err.Error()}
		}
		return nil, err
	}
	if len(records) == 0 {
		return nil, &CellError{Row: 1, Msg: "empty file: want a header row (位号, 节点, …)"}
	}
	l := &List{Encoding: enc}
	cols, headers, errs := l.header(records[0])
	if errs != nil {
		return nil, errors.Join(errs...)
	}
	p := &parser{list: l, cols: cols, headers: headers, hazards: map[string]int{}, ids: map[string]int{}}
	for i, rec := range records[1:] {
		p.row(i+2, rec)
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	if len(l.Points) == 0 {
		return nil, &CellError{Row: 2, Msg: "no points below the header"}
	}
	return l, nil
}

// header maps each column of the header row.
func (l *List) header(rec []string) ([]column, []string, []error) {
	cols := make([]column, len(rec))
	var errs []error
	seen := map[column]string{}
	for i, h := range rec {
		name := strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if name == "" {
			continue
		}
		c, ok := byAlias[normalise(name)]
		if !ok {
			l.Warnings = append(l.Warnings, fmt.Sprintf("column %q (%s) not recognised; ignored", name, colLetter(i)))
			continue
		}
		if prev, dup := seen[c]; dup && c != colInfo {
			errs = append(errs, &CellError{Row: 1, Column: name, Msg: fmt.Sprintf("same meaning as column %s", prev)})
			continue
		}
		seen[c] = name
		cols[i] = c
	}
	for _, need := range []column{colID, colNode} {
		if _, ok := seen[need]; !ok {
			errs = append(errs, &CellError{Row: 1, Msg: fmt.Sprintf("missing column %s", heading(need))})
		}
	}
	headers := make([]string, len(rec))
	for i, h := range rec {
		headers[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
	}
	return cols, headers, errs
}

// colLetter is a spreadsheet's name for column i (0 → A).
func colLetter(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('A'+(i-1)%26)) + s
	}
	return "column " + s
}

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

// ReadAll reads a point list from r.
func ReadAll(r io.Reader) (*List, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}
