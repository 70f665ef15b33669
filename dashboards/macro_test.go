package dashboards_test

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// expander does what Grafana and the ClickHouse plugin do to a panel's SQL
// before it reaches ClickHouse: template variables first (Grafana), then the
// plugin's macros, written here as the plugin v4 emits them. Macros that do
// not run on ClickHouse 18.16 ($__timeInterval, the *_ms family) are errors.
type expander struct {
	from, to time.Time
	interval time.Duration
	vars     map[string][]string
}

var (
	varBraced = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?\}`)
	varPlain  = regexp.MustCompile(`\$([A-Za-z_][A-Za-z0-9_]*)`)
	macroCall = regexp.MustCompile(`\$__([A-Za-z_]+)(\(([^)]*)\))?`)
)

func (e expander) expand(sql string) (string, error) {
	var errs []string
	sql = varBraced.ReplaceAllStringFunc(sql, func(m string) string {
		g := varBraced.FindStringSubmatch(m)
		vals, ok := e.vars[g[1]]
		if !ok {
			errs = append(errs, "unknown variable "+m)
			return m
		}
		out, err := format(vals, g[2])
		if err != nil {
			errs = append(errs, err.Error()+" in "+m)
			return m
		}
		return out
	})
	sql = varPlain.ReplaceAllStringFunc(sql, func(m string) string {
		name := m[1:]
		if strings.HasPrefix(name, "__") {
			return m // a macro
		}
		vals, ok := e.vars[name]
		if !ok {
			errs = append(errs, "unknown variable "+m)
			return m
		}
		return strings.Join(vals, ",")
	})
	dt := func(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }
	sql = macroCall.ReplaceAllStringFunc(sql, func(m string) string {
		g := macroCall.FindStringSubmatch(m)
		name, hasArgs, arg := g[1], g[2] != "", strings.TrimSpace(g[3])
		switch {
		case name == "timeFilter" && hasArgs:
			return fmt.Sprintf("%s >= %s AND %s <= %s", arg, dt(e.from), arg, dt(e.to))
		case name == "fromTime" && !hasArgs:
			return dt(e.from)
		case name == "toTime" && !hasArgs:
			return dt(e.to)
		case name == "interval_s" && !hasArgs:
			return fmt.Sprint(max(int(e.interval.Seconds()), 1))
		}
		errs = append(errs, "macro "+m+" is not supported on every ClickHouse the aggregator runs on")
		return m
	})
	if len(errs) > 0 {
		return "", fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return sql, nil
}

// format renders a variable's values as Grafana's variable format options
// do (docs: "Advanced variable format options"). A single value is a
// one-element slice (Grafana sends a multi-valued variable with one choice
// as an array, {a} when percent-encoded; the dashboards SQL reads both).
//
//	sqlstring     each value quoted with ', ' doubled as ''; joined with ,
//	singlequote   each value quoted with ', ' escaped as \'; joined with ,
//	percentencode encodeURIComponent, plus !'()* escaped; several values as {a,b}
//	(none)        the values joined with , (the plugin's default for one value)
func format(vals []string, opt string) (string, error) {
	quoteEach := func(esc func(string) string) string {
		q := make([]string, len(vals))
		for i, v := range vals {
			q[i] = "'" + esc(v) + "'"
		}
		return strings.Join(q, ",")
	}
	switch opt {
	case "":
		return strings.Join(vals, ","), nil
	case "sqlstring":
		return quoteEach(func(v string) string { return strings.ReplaceAll(v, "'", "''") }), nil
	case "singlequote":
		return quoteEach(func(v string) string { return strings.ReplaceAll(v, "'", `\'`) }), nil
	case "percentencode":
		if len(vals) == 1 {
			return encodeURIComponentStrict(vals[0]), nil
		}
		return encodeURIComponentStrict("{" + strings.Join(vals, ",") + "}"), nil
	}
	return "", fmt.Errorf("unsupported format %q", opt)
}

// encodeURIComponentStrict is JavaScript's encodeURIComponent with !'()*
// escaped as well, as Grafana's percentencode does: only A-Z a-z 0-9 - _ . ~
// stay as they are, every other byte of the UTF-8 text becomes %XX.
func encodeURIComponentStrict(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
