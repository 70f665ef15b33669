// Package dashboards holds Lifeline's Grafana dashboards as code: Go
// builders for the layout and one SQL file per panel query, embedded in the
// binary. The aggregator's provisioner (aggregator/grafana) writes them to
// Grafana; `lifeline-aggregator provision --dry-run` writes them to files.
//
// Every dashboard belongs to one park (化工园区): the park is a hidden
// constant in the dashboard, and every query filters on it, so a park's
// operators see only their park's enterprises. The enterprise dashboard is
// built once per site.
//
// Panel SQL runs on every ClickHouse the aggregator supports, 18.16
// included: time is bucketed with intDiv(toUInt32(ts), $__interval_s) rather
// than the plugin's $__timeInterval (toStartOfInterval is missing on 18.16),
// and only $__timeFilter, $__fromTime, $__toTime and $__interval_s are used.
package dashboards

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Lang is a dashboard language.
type Lang string

// Languages. Chinese is the default: park operators read it.
const (
	Chinese Lang = "zh"
	English Lang = "en"
)

// ParseLang returns the language named by s ("zh", "zh-CN", "en", …).
func ParseLang(s string) (Lang, error) {
	switch strings.ToLower(s) {
	case "", "zh", "zh-cn", "zh_cn":
		return Chinese, nil
	case "en", "en-us", "en_us":
		return English, nil
	}
	return "", fmt.Errorf("language %q: want zh or en", s)
}

// DatasourceType is the Grafana plugin ID of the ClickHouse data source.
const DatasourceType = "grafana-clickhouse-datasource"

// Tags every Lifeline dashboard carries. ManagedTag marks the dashboards the
// provisioner owns: it updates and deletes only dashboards with that tag.
const (
	ProductTag = "lifeline"
	ManagedTag = "lifeline-managed"
)

// Kinds of dashboard.
const (
	KindOverview   = "overview"
	KindEnterprise = "enterprise"
	KindHazard     = "hazard"
	KindPoint      = "point"
	KindAlarms     = "alarms"
	KindAgents     = "agents"
)

// Park is one chemical park and the sites (enterprises) in it.
type Park struct {
	Name  string
	Sites []string
}

// Options choose the language and the data source the panels query.
type Options struct {
	Lang          Lang
	DatasourceUID string
	// AckOverdueMinutes is how long an alarm may wait for acknowledgement
	// before the alarm dashboard calls it overdue; 0 means
	// DefaultAckOverdueMinutes.
	AckOverdueMinutes int
}

// DefaultAckOverdueMinutes is the default of Options.AckOverdueMinutes.
const DefaultAckOverdueMinutes = 15

// Dashboard is one built dashboard.
type Dashboard struct {
	UID   string
	Title string
	Kind  string
	Park  string
	// Site is set for per-site dashboards (the enterprise dashboard).
	Site string
	// Model is the dashboard JSON model as Grafana stores it.
	Model map[string]any

	queries   []Query
	constants map[string]string
}

// Query is one SQL query of a dashboard: a panel target or a template
// variable, still holding the plugin's macros and template variables.
type Query struct {
	// Name says where the query is: "panel <title> <refId>" or "variable <name>".
	Name string
	// File is the embedded SQL file it came from.
	File string
	SQL  string
	// Columns are the columns the query returns, in order, as its file
	// declares them on its first line ("-- columns: a, b").
	Columns []string
	// TimeSeries says the panel plots it over time: its first column is the
	// time bucket.
	TimeSeries bool
}

// Queries returns every query of the dashboard: variables first, then
// panels in layout order.
func (d Dashboard) Queries() []Query { return append([]Query(nil), d.queries...) }

// Constants returns the values of the dashboard's hidden constant
// variables: the park, the site of a per-site dashboard, the alarm
// dashboard's overdue threshold.
func (d Dashboard) Constants() map[string]string {
	out := map[string]string{}
	for k, v := range d.constants {
		out[k] = v
	}
	return out
}

// ParkTag is the tag shared by a park's dashboards; their link menus list it.
func ParkTag(park string) string { return "lifeline-park-" + Key(park) }

// FolderUID is the stable UID of a park's folder.
func FolderUID(park string) string { return "ll-" + Key(park) }

// UID returns the stable UID of a park's dashboard of kind (site empty) or
// of a site's dashboard.
func UID(park, kind, site string) string {
	if site != "" {
		return "ll-" + Key(park) + "-" + kind[:3] + "-" + Key(site)
	}
	return "ll-" + Key(park) + "-" + kind
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_]{1,12}$`)

// Key turns a park or site name into a short string fit for a UID: the
// name itself when it is short plain ASCII, else 10 hex digits of its
// SHA-256. It never changes for a given name.
func Key(name string) string {
	if plainKey.MatchString(name) {
		return strings.ToLower(name)
	}
	sum := sha256.Sum256([]byte(name))
	return "h" + hex.EncodeToString(sum[:5])
}

// Build returns every dashboard of a park: the park-wide ones and one
// enterprise dashboard per site, sorted by UID.
func Build(p Park, o Options) ([]Dashboard, error) {
	if p.Name == "" {
		return nil, fmt.Errorf("build dashboards: empty park name")
	}
	if o.DatasourceUID == "" {
		return nil, fmt.Errorf("build dashboards of park %s: empty data source UID", p.Name)
	}
	if o.Lang == "" {
		o.Lang = Chinese
	}
	if o.Lang != Chinese && o.Lang != English {
		return nil, fmt.Errorf("build dashboards of park %s: language %q: want zh or en", p.Name, o.Lang)
	}
	var out []Dashboard
	for _, kind := range []string{KindOverview, KindHazard, KindPoint, KindAlarms, KindAgents} {
		d, err := build(p.Name, kind, "", o)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	seen := map[string]bool{}
	for _, site := range p.Sites {
		if site == "" || seen[site] {
			continue
		}
		seen[site] = true
		d, err := build(p.Name, KindEnterprise, site, o)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out, nil
}
