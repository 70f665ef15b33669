// Package obstest holds test helpers for what package obs serves: the check
// that keeps a binary's registered metrics and docs/metrics.md in step, and
// probes of /healthz and /readyz.
package obstest

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// recorder registers on a real registry, so duplicate or inconsistent
// metrics fail as they would in the binary, and notes each metric's name.
type recorder struct {
	reg   *prometheus.Registry
	names []string
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *recorder) Register(c prometheus.Collector) error {
	if err := r.reg.Register(c); err != nil {
		return err
	}
	// Descriptions, not values: a labelled metric is named before it has a
	// series, and no component needs to be running.
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names = append(r.names, m[1])
		}
	}
	return nil
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *recorder) Unregister(c prometheus.Collector) bool { return r.reg.Unregister(c) }

// Registered returns the names of the metrics register registers on a
// fresh registry, without Go's and the process's own (go_*, process_*).
func Registered(t testing.TB, register func(prometheus.Registerer)) []string {
	t.Helper()
	r := &recorder{reg: prometheus.NewPedanticRegistry()}
	register(r)
	var out []string
	for _, n := range r.names {
		if !strings.HasPrefix(n, "go_") && !strings.HasPrefix(n, "process_") {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Documented returns the metrics the table under the heading "## section"
// of the Markdown file at path lists, by name, with their type column.
func Documented(t testing.TB, path, section string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile("^\\| `(lifeline_[a-z0-9_]+)` \\| ([a-z]+) \\|")
	out := map[string]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = strings.TrimPrefix(line, "## ") == section
			continue
		}
		if m := row.FindStringSubmatch(line); in && m != nil {
			if _, dup := out[m[1]]; dup {
				t.Errorf("%s: %s listed twice under %q", path, m[1], section)
			}
			out[m[1]] = m[2]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// CheckDocumented fails t unless the section of the doc at path lists
// exactly the registered metrics, counters named _total and nothing else.
func CheckDocumented(t testing.TB, path, section string, registered []string) {
	t.Helper()
	doc := Documented(t, path, section)
	if len(registered) == 0 {
		t.Fatal("no metrics registered")
	}
	for _, n := range registered {
		if _, ok := doc[n]; !ok {
			t.Errorf("%s is registered but not listed under %q in %s", n, section, path)
		}
	}
	for n, typ := range doc {
		if !slices.Contains(registered, n) {
			t.Errorf("%s is listed under %q in %s but not registered", n, section, path)
		}
		if counter := typ == "counter"; counter != strings.HasSuffix(n, "_total") {
			t.Errorf("%s: a %s; counters, and only they, end in _total", n, typ)
		}
	}
}
