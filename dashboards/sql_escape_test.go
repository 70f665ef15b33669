package dashboards_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lifeline-telemetry/lifeline/dashboards"
)

// hostile values for every variable: the quote-only attack, and backslash
// variants that defeat quote doubling (ClickHouse reads \' as a quote
// inside a string, so ${v:sqlstring} and ${v:singlequote} both leak).
var hostile = []string{
	`x' OR 1=1 OR '`,
	`x\' OR 1=1 OR '`,
	`x\\' OR 1=1 OR '`,
	`x\') OR 1=1 OR site_id IN ('`,
	`x\' OR 1=1 --`,
}

// Every query of park A's dashboards, with each variable in turn (and all
// at once) set to a hostile value, runs and returns exactly what a value
// that names nothing returns: never a row of park B.
func TestHostileVariablesSeeOnlyTheirPark(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conn, now := seeded(t, ctx)
	ds, err := dashboards.Build(dashboards.Park{Name: parkA, Sites: []string{"ENT01", "ENT02"}},
		dashboards.Options{DatasourceUID: "lifeline-clickhouse"})
	if err != nil {
		t.Fatal(err)
	}
	base := map[string][]string{"park": {parkA}, "site": {"ENT01"}, "hazard": {"HZ-01"}, "point": {"T101.LT"}, "ack_overdue_min": {"15"}}
	checked := 0
	for _, d := range ds {
		for _, target := range []string{"park", "site", "hazard", "point", "all"} {
			for _, h := range hostile {
				attacked, harmless := clone(base), clone(base)
				for name := range base {
					if name == target || target == "all" {
						attacked[name], harmless[name] = []string{h}, []string{"nosuch"}
					}
				}
				if target == "site" { // the alarms drop-down holds several
					attacked["site"], harmless["site"] = []string{"ENT01", h}, []string{"ENT01", "nosuch"}
				}
				for _, q := range d.Queries() {
					got := runWith(t, ctx, conn, now, attacked, q)
					want := runWith(t, ctx, conn, now, harmless, q)
					for _, r := range got {
						if slices.Contains(r, "OTHER1") || slices.Contains(r, "X1") || slices.Contains(r, parkB) {
							t.Errorf("%s %s with %s=%q shows park B: %v", d.UID, q.File, target, h, r)
						}
					}
					if len(got) != len(want) || (!strings.Contains(q.SQL, "now()") && !slices.EqualFunc(got, want, slices.Equal)) {
						t.Errorf("%s %s with %s=%q: %v, with a value naming nothing %v", d.UID, q.File, target, h, got, want)
					}
					checked++
				}
			}
		}
	}
	if checked < 100 {
		t.Fatalf("checked %d renderings", checked)
	}
}

// Grafana's quoting formats are not enough on ClickHouse, which is why the
// dashboards read variables percent-encoded: a backslash before the quote
// ends ${park:sqlstring} early and turns the rest into SQL that lists every
// park's sites.
func TestQuotingFormatsLeakOnClickHouse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, now := seeded(t, ctx)
	for _, f := range []string{"sqlstring", "singlequote"} {
		e := expander{from: now, to: now, interval: time.Minute, vars: map[string][]string{"park": {`x\' OR 1=1 --`}}}
		sql, err := e.expand("SELECT site_id FROM sites FINAL WHERE park = ${park:" + f + "}")
		if err != nil {
			t.Fatal(err)
		}
		_, rows, err := run(ctx, conn, sql)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(rows) != 3 {
			t.Errorf("%s held against a backslash (%s): reconsider percent-encoding", f, sql)
		}
	}
}

// runWith renders q with vars over the last six hours and runs it.
func runWith(t *testing.T, ctx context.Context, conn driver.Conn, now time.Time, vars map[string][]string, q dashboards.Query) [][]string {
	t.Helper()
	e := expander{from: now.Add(-6 * time.Hour), to: now.Add(time.Minute), interval: time.Minute, vars: vars}
	sql, err := e.expand(q.SQL)
	if err != nil {
		t.Fatalf("%s: %v", q.File, err)
	}
	_, rows, err := run(ctx, conn, sql)
	if err != nil {
		t.Fatalf("%s does not run: %v\n%s", q.File, err, sql)
	}
	return rows
}

func clone(m map[string][]string) map[string][]string {
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

// safeUse is the only way a query may read a template variable: percent-
// encoded inside a string literal, decoded by ClickHouse. The encoded text
// holds only A-Z a-z 0-9 - _ . ~ %, so nothing can end the literal.
var (
	anyVar  = regexp.MustCompile(`\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[^\]]*\]\]`)
	safeUse = regexp.MustCompile(`^decodeURLComponent\('\$\{(park|site|hazard|point|ack_overdue_min):percentencode\}'\)`)
)

// No SQL file reads a variable any other way (macros $__… excepted).
func TestVariablesAreAlwaysEncoded(t *testing.T) {
	files, err := filepath.Glob("sql/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("sql files: %v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sql := string(b)
		for _, loc := range anyVar.FindAllStringIndex(sql, -1) {
			m := sql[loc[0]:loc[1]]
			if strings.HasPrefix(m, "$__") {
				continue
			}
			start := max(loc[0]-len("decodeURLComponent('"), 0)
			if !safeUse.MatchString(sql[start:]) {
				t.Errorf("%s: %s is not read as decodeURLComponent('${name:percentencode}')", f, m)
			}
		}
	}
}

// The expander formats values as Grafana documents its format options.
func TestExpanderFormatsLikeGrafana(t *testing.T) {
	for _, c := range []struct {
		vals []string
		opt  string
		want string
	}{
		{[]string{`a'b`}, "sqlstring", `'a''b'`},
		{[]string{"a", `b'c`}, "sqlstring", `'a','b''c'`},
		{[]string{`a'b`}, "singlequote", `'a\'b'`},
		{[]string{"a", "b"}, "singlequote", `'a','b'`},
		{[]string{`x' OR 1=1 OR '`}, "percentencode", `x%27%20OR%201%3D1%20OR%20%27`},
		{[]string{`a\(b)*!~._-`}, "percentencode", `a%5C%28b%29%2A%21~._-`},
		{[]string{"江北"}, "percentencode", `%E6%B1%9F%E5%8C%97`},
		{[]string{"ENT01", "ENT02"}, "percentencode", `%7BENT01%2CENT02%7D`},
		{[]string{"a", "b"}, "", "a,b"},
	} {
		got, err := format(c.vals, c.opt)
		if err != nil || got != c.want {
			t.Errorf("format(%q, %s) = %s, %v; want %s", c.vals, c.opt, got, err, c.want)
		}
	}
	if _, err := format([]string{"a"}, "nosuch"); err == nil {
		t.Error("unknown format accepted")
	}
}
