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
		switch g[2] {
		case "":
			return strings.Join(vals, ",")
		case "singlequote":
			q := make([]string, len(vals))
			for i, v := range vals {
				q[i] = "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
			}
			return strings.Join(q, ",")
		default:
			errs = append(errs, "unsupported format "+m)
			return m
		}
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
