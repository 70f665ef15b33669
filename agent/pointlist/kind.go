package pointlist

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// evidence is where a kind rule looks. The order of the constants is the
// precedence: when two places disagree, the earlier one decides.
type evidence int

const (
	byUnit      evidence = iota // 单位/unit
	byName                      // 名称/name, else 描述/description
	byTag                       // the letter code of 位号/id (ISA 5.1)
	byLimits                    // which limit columns are filled
	bySubstance                 // a gas named in name/description: says which gas, never that it is one
)

func (e evidence) String() string {
	return [...]string{"unit", "name", "tag", "limits", "gas"}[e]
}

// Family results of a rule: not a kind by themselves.
const (
	// familyGas: some gas detector; which gas is settled by another
	// place (a gas kind from the name, else a bySubstance rule).
	familyGas = "gas"
	// kindAnalog from limit columns: a measured value with alarm limits,
	// of a quantity nothing else names.
	kindAnalog = "analog"
)

// kindRule maps the keys of one place onto a kind (or familyGas).
type kindRule struct {
	from evidence
	keys []string
	kind string
}

// kindRules are the rules `points import` applies to every row without a
// 类型/kind cell, documented in docs/agent.md ("How a point's kind is
// found"); a test keeps the two in step. Units match whole (case, spaces,
// full-width letters and a bracketed suffix such as "(G)" ignored).
// Name keys match anywhere in Chinese text and as whole words in Latin
// text; the key that ends last wins, since names end with what is
// measured (压力容器温度 is a temperature). Tag keys are the letter code
// of one part of the 位号 (LT-101, 101-LT-001, T101.LT).
var kindRules = []kindRule{
	{byUnit, []string{"%LEL", "LEL", "%LEL.m"}, "gas_combustible"},
	{byUnit, []string{"ppm", "ppb", "mg/m3", "mg/m³", "μmol/mol", "umol/mol"}, "gas_toxic"},
	{byUnit, []string{"%VOL", "VOL%", "%V/V"}, familyGas},
	{byUnit, []string{"m", "mm", "cm"}, "level"},
	{byUnit, []string{"℃", "°C", "degC", "K", "℉", "°F"}, "temperature"},
	{byUnit, []string{"MPa", "kPa", "Pa", "bar", "mbar", "psi", "MPaG", "kPaG", "barg", "psig", "mmH2O", "mmHg", "kgf/cm2", "atm"}, "pressure"},
	{byUnit, []string{"m3/h", "m³/h", "Nm3/h", "Nm³/h", "t/h", "kg/h", "kg/s", "L/h", "L/min", "m3/s", "m3/d", "t/d"}, "flow"},

	{byName, []string{"液位", "物位", "料位", "界位", "level"}, "level"},
	{byName, []string{"温度", "temperature", "temp"}, "temperature"},
	{byName, []string{"压力", "差压", "pressure"}, "pressure"},
	{byName, []string{"流量", "flow"}, "flow"},
	{byName, []string{"可燃", "易燃", "combustible", "flammable", "LEL"}, "gas_combustible"},
	{byName, []string{"有毒", "毒性", "toxic"}, "gas_toxic"},
	{byName, []string{"氧含量", "氧气", "含氧", "氧浓度", "oxygen", "O2"}, "gas_oxygen"},
	{byName, []string{"开关", "switch"}, "switch"},
	{byName, []string{"状态", "status"}, "status"},
	{byName, []string{"气体", "探测器", "检测器", "gas"}, familyGas},

	{byTag, []string{"LT", "LI", "LIC", "LIA", "LICA", "LE", "LG", "LR", "LRC"}, "level"},
	{byTag, []string{"TT", "TI", "TIC", "TIA", "TICA", "TE", "TR", "TRC"}, "temperature"},
	{byTag, []string{"PT", "PI", "PIC", "PIA", "PICA", "PDT", "PDI", "PDIC", "PR", "PRC"}, "pressure"},
	{byTag, []string{"FT", "FI", "FIC", "FIA", "FICA", "FE", "FQ", "FIQ", "FQI", "FR", "FRC"}, "flow"},
	{byTag, []string{"GT", "GD", "GA", "GDS", "AT", "AI", "AIA", "AE"}, familyGas},
	{byTag, []string{"LS", "LSH", "LSL", "LSHH", "LSLL", "PS", "PSH", "PSL", "TS", "TSH", "TSL", "FS", "FSH", "FSL", "ZS", "ZSO", "ZSC"}, "switch"},

	{byLimits, []string{"一级报警", "二级报警"}, familyGas},
	{byLimits, []string{"低低报", "低报", "高报", "高高报"}, kindAnalog},

	{bySubstance, []string{"硫化氢", "H2S", "氨", "NH3", "一氧化碳", "CO", "氯气", "Cl2", "氰化氢", "HCN", "二氧化硫", "SO2", "光气", "COCl2", "苯"}, "gas_toxic"},
	{bySubstance, []string{"甲烷", "CH4", "氢气", "H2", "天然气", "液化石油气", "LPG", "乙烯", "丙烯"}, "gas_combustible"},
}

// clue is what one place says about a row's kind, and which key said it.
type clue struct {
	from evidence
	key  string
	kind string
}

func (c clue) String() string { return fmt.Sprintf("%s %s", c.from, c.key) }

// kindOf finds the kind of a row from its unit, name, description, tag and
// limits by kindRules. It returns "" when nothing settles it; the
// warnings name what was missing or what disagreed.
func kindOf(pt *config.Point, l *config.Limits) (string, []string) {
	clues := rowClues(pt, l)
	label := "point " + pt.ID
	if pt.Kind != "" {
		var odd []string
		for _, c := range clues {
			if c.from != bySubstance && pt.Kind != kindAnalog && !agrees(pt.Kind, c.kind) {
				odd = append(odd, fmt.Sprintf("%s says %s", c, describe(c.kind)))
			}
		}
		if len(odd) == 0 {
			return pt.Kind, nil
		}
		return pt.Kind, []string{fmt.Sprintf("%s: kind %s as given in 类型 (kind), although %s", label, pt.Kind, strings.Join(odd, ", "))}
	}
	if len(clues) == 0 || clues[0].from == bySubstance {
		return "", []string{fmt.Sprintf("%s: kind unknown: no rule matches its unit %q, name, tag or limit columns; set 类型 (kind)", label, pt.Unit)}
	}
	win := clues[0]
	kind := win.kind
	if kind == familyGas {
		kind = ""
		for _, c := range clues[1:] {
			if strings.HasPrefix(c.kind, "gas_") {
				kind, win = c.kind, clue{win.from, win.key + " and " + c.String(), c.kind}
				break
			}
		}
		if kind == "" {
			return "", []string{fmt.Sprintf("%s: kind unknown: a gas detector by %s, but nothing says which gas (可燃/有毒/氧, %%LEL/ppm); set 类型 (kind)", label, clues[0])}
		}
	}
	var odd []string
	for _, c := range clues {
		if c.from != bySubstance && !agrees(kind, c.kind) {
			odd = append(odd, fmt.Sprintf("%s says %s", c, describe(c.kind)))
		}
	}
	if len(odd) > 0 {
		return kind, []string{fmt.Sprintf("%s: kind %s by %s, although %s; the %s decides (set 类型 (kind) to choose)", label, kind, win, strings.Join(odd, ", "), win.from)}
	}
	return kind, nil
}

// describe names a clue's kind in a warning.
func describe(kind string) string {
	switch kind {
	case familyGas:
		return "a gas detector"
	case kindAnalog:
		return "a measured value"
	}
	return kind
}

// agrees reports whether a clue's kind c is consistent with kind k.
func agrees(k, c string) bool {
	switch c {
	case k:
		return true
	case familyGas:
		return strings.HasPrefix(k, "gas_")
	case kindAnalog:
		return k != "switch" && k != "status"
	}
	return false
}

// rowClues lists what each place of the row says, in precedence order;
// byName and bySubstance look at the name, else the description.
func rowClues(pt *config.Point, l *config.Limits) []clue {
	var out []clue
	add := func(from evidence, key, kind string) {
		if kind != "" {
			out = append(out, clue{from, key, kind})
		}
	}
	add(byUnit, pt.Unit, unitKind(pt.Unit))
	text := pt.Name
	if k, _ := lastKey(text, byName); k == "" {
		text = pt.Description
	}
	k, kind := lastKey(text, byName)
	add(byName, k, kind)
	k, kind = tagKind(pt.ID)
	add(byTag, k, kind)
	add(limitsKind(l))
	k, kind = lastKey(pt.Name, bySubstance)
	if k == "" {
		k, kind = lastKey(pt.Description, bySubstance)
	}
	add(bySubstance, k, kind)
	return out
}

func unitKind(unit string) string {
	u := foldUnit(unit)
	if u == "" {
		return ""
	}
	for _, r := range kindRules {
		if r.from == byUnit && slices.ContainsFunc(r.keys, func(k string) bool { return foldUnit(k) == u }) {
			return r.kind
		}
	}
	return ""
}

// foldUnit ignores case, spaces, full-width letters and a bracketed
// suffix: "MPa(G)", "％ＬＥＬ" and "% lel" are MPa and %LEL.
func foldUnit(u string) string {
	u = foldWidth(strings.TrimSpace(u))
	for _, open := range []string{"(", "（", "["} {
		if i := strings.Index(u, open); i > 0 {
			u = u[:i]
		}
	}
	return strings.ToLower(strings.ReplaceAll(u, " ", ""))
}

func foldWidth(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 0xFF01 && r <= 0xFF5E {
			return r - 0xFEE0
		}
		if r == 0x3000 {
			return ' '
		}
		return r
	}, s)
}

// lastKey is the key of the rules of one place that ends last in text,
// and its kind. Concrete kinds go before familyGas: "可燃气体检测器"
// names the gas before it says it is a detector.
func lastKey(text string, from evidence) (string, string) {
	text = strings.ToLower(foldWidth(text))
	for _, family := range []bool{false, true} {
		bestEnd, bestKey, bestKind := -1, "", ""
		for _, r := range kindRules {
			if r.from != from || (r.kind == familyGas) != family {
				continue
			}
			for _, k := range r.keys {
				if end := lastEnd(text, strings.ToLower(k)); end > bestEnd || (end == bestEnd && end >= 0 && len(k) > len(bestKey)) {
					bestEnd, bestKey, bestKind = end, k, r.kind
				}
			}
		}
		if bestEnd >= 0 {
			return bestKey, bestKind
		}
	}
	return "", ""
}

// lastEnd is where the last match of key in text ends, or -1. A Latin key
// matches only as a whole word: not next to other Latin letters or
// digits, so CO is not found in CO2 nor flow in overflow.
func lastEnd(text, key string) int {
	latin := isLatin(key[0]) || isLatin(key[len(key)-1])
	for end := len(text); end > 0; {
		i := strings.LastIndex(text[:end], key)
		if i < 0 {
			return -1
		}
		e := i + len(key)
		if !latin || ((i == 0 || !isLatin(text[i-1])) && (e == len(text) || !isLatin(text[e]))) {
			return e
		}
		end = i + len(key) - 1
	}
	return -1
}

func isLatin(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// tagKind looks for an ISA 5.1 letter code among the parts of a 位号: the
// letters that begin a part, followed by digits or nothing (LT101, LT,
// but not LTX1).
func tagKind(id string) (string, string) {
	parts := strings.FieldsFunc(strings.ToUpper(id), func(r rune) bool { return r > 0x7f || !isLatin(byte(r)) })
	for _, p := range parts {
		n := 0
		for n < len(p) && p[n] >= 'A' && p[n] <= 'Z' {
			n++
		}
		if n == 0 || strings.TrimLeft(p[n:], "0123456789") != "" && !endsInLetter(p[n:]) {
			continue
		}
		for _, r := range kindRules {
			if r.from == byTag && slices.Contains(r.keys, p[:n]) {
				return p[:n], r.kind
			}
		}
	}
	return "", ""
}

// endsInLetter allows one suffix letter after the loop number (LT101A).
func endsInLetter(s string) bool {
	t := strings.TrimLeft(s, "0123456789")
	return len(t) == 1 && len(t) < len(s)
}

// limitsKind: stage limits (一级/二级) are a gas detector's; LL/L/H/HH
// limits say only that the point is a measured value.
func limitsKind(l *config.Limits) (evidence, string, string) {
	switch {
	case l == nil:
		return byLimits, "", ""
	case l.Stage1 != nil || l.Stage2 != nil:
		return byLimits, "一级/二级报警", familyGas
	case l.LowLow != nil || l.Low != nil || l.High != nil || l.HighHigh != nil:
		return byLimits, "低低报/低报/高报/高高报", kindAnalog
	}
	return byLimits, "", ""
}
