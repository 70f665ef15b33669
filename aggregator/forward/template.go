package forward

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"text/template"
	"time"
)

// templates are a target's parsed destination and payload templates.
type templates struct {
	dest    map[string]*template.Template
	payload map[string]*template.Template
}

// loadTemplates parses the destination templates of t and, for every kind
// with a destination, its payload template file.
func loadTemplates(t Target, loc *time.Location, codes *atomic.Pointer[codeBook]) (*templates, error) {
	funcs := templateFuncs(loc, codes)
	out := &templates{dest: map[string]*template.Template{}, payload: map[string]*template.Template{}}
	for _, kind := range Kinds {
		d := t.Dest[kind]
		if d == "" {
			continue
		}
		dt, err := template.New(kind + " dest").Funcs(funcs).Option("missingkey=error").Parse(d)
		if err != nil {
			return nil, fmt.Errorf("target %s: dest.%s: %w", t.Name, kind, err)
		}
		path := filepath.Join(t.Templates, kind+".tmpl")
		text, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("target %s: %s template: %w", t.Name, kind, err)
		}
		pt, err := template.New(filepath.Base(path)).Funcs(funcs).Option("missingkey=error").Parse(string(text))
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", t.Name, err)
		}
		out.dest[kind], out.payload[kind] = dt, pt
	}
	return out, nil
}

// render executes the destination and payload templates of m.Kind.
func (ts *templates) render(m *Message) (dest string, payload []byte, err error) {
	var d, p bytes.Buffer
	if err := ts.dest[m.Kind].Execute(&d, m); err != nil {
		return "", nil, fmt.Errorf("render %s dest: %w", m.Kind, err)
	}
	if err := ts.payload[m.Kind].Execute(&p, m); err != nil {
		return "", nil, fmt.Errorf("render %s payload: %w", m.Kind, err)
	}
	return strings.TrimSpace(d.String()), bytes.TrimSpace(p.Bytes()), nil
}

// templateFuncs are the helpers documented in docs/forwarding.md.
func templateFuncs(loc *time.Location, codes *atomic.Pointer[codeBook]) template.FuncMap {
	return template.FuncMap{
		// fmtTime "2006-01-02 15:04:05" .Time: in the target's time zone.
		"fmtTime": func(layout string, t time.Time) string { return t.In(loc).Format(layout) },
		"unixMs":  func(t time.Time) int64 { return t.UnixMilli() },
		"unix":    func(t time.Time) int64 { return t.Unix() },
		// fmtNum 2 .Value: fixed decimals; NaN and ±Inf give null.
		"fmtNum": func(decimals int, v float64) string {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return "null"
			}
			return strconv.FormatFloat(v, 'f', decimals, 64)
		},
		// num .Value: the shortest exact decimal.
		"num": func(v float64) string {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return "null"
			}
			return strconv.FormatFloat(v, 'f', -1, 64)
		},
		// opt .H: a limit or range end, null when not set.
		"opt": func(v *float64) string {
			if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
				return "null"
			}
			return strconv.FormatFloat(*v, 'f', -1, 64)
		},
		// code "point" .Enterprise.SiteID .PointID: the province's code.
		"code": func(kind string, ids ...string) string {
			return codes.Load().code(kind, strings.Join(ids, "/"))
		},
		"json": toJSON,
		"bool01": func(b bool) int {
			if b {
				return 1
			}
			return 0
		},
		"upper": strings.ToUpper,
		"lower": strings.ToLower,
		// default "x" .S: .S, or "x" when .S is empty.
		"default": func(d, s string) string {
			if s == "" {
				return d
			}
			return s
		},
	}
}

// toJSON encodes v as JSON without HTML escaping: json .Name gives a
// quoted, escaped string.
func toJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
