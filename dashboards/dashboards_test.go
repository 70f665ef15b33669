package dashboards_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/dashboards"
)

func TestBuildIsCompleteAndStable(t *testing.T) {
	park := dashboards.Park{Name: "江北化工园区", Sites: []string{"ENT01", "企业二号", "ENT01"}}
	used := map[string]bool{}
	for _, lang := range []dashboards.Lang{dashboards.Chinese, dashboards.English} {
		ds, err := dashboards.Build(park, dashboards.Options{Lang: lang, DatasourceUID: "lifeline-clickhouse"})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 7 { // five park dashboards and one per distinct site
			t.Fatalf("%s: %d dashboards, want 7", lang, len(ds))
		}
		again, _ := dashboards.Build(park, dashboards.Options{Lang: lang, DatasourceUID: "lifeline-clickhouse"})
		for i, d := range ds {
			if len(d.UID) > 40 || !strings.HasPrefix(d.UID, dashboards.FolderUID(park.Name)) {
				t.Errorf("uid %q: want at most 40 characters under the park's prefix", d.UID)
			}
			a, err := json.Marshal(d.Model)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(again[i].Model)
			if string(a) != string(b) {
				t.Errorf("%s: two builds differ", d.UID)
			}
			// Every visible string is translated: no text key leaks out.
			for _, leak := range []string{`"dash.`, `"col.`, `"state.`, `"overview.`, `"point.`, `"hazard.`, `"agents.`, `"var.`, `"enterprise.`} {
				if strings.Contains(string(a), leak) {
					t.Errorf("%s (%s): untranslated text %s…", d.UID, lang, leak)
				}
			}
			if !strings.Contains(string(a), `"`+dashboards.ManagedTag+`"`) {
				t.Errorf("%s: no %s tag", d.UID, dashboards.ManagedTag)
			}
			for _, q := range d.Queries() {
				used[q.File] = true
				if strings.Contains(q.SQL, "$__timeInterval") || strings.Contains(q.SQL, "_ms") {
					t.Errorf("%s: %s uses a macro that fails on ClickHouse 18.16", d.UID, q.File)
				}
				if q.TimeSeries && q.Columns[0] != "time" && q.Columns[0] != "t" {
					t.Errorf("%s: %s: a time series must return its time first, got %v", d.UID, q.File, q.Columns)
				}
			}
		}
	}
	for _, f := range dashboards.SQLFiles() {
		if !used[f] {
			t.Errorf("sql/%s is used by no dashboard", f)
		}
	}
}

func TestUIDsAreStableAndDistinct(t *testing.T) {
	if got := dashboards.UID("江北化工园区", dashboards.KindOverview, ""); got != "ll-h43642a9eab-overview" {
		t.Errorf("overview uid changed: %s", got) // bookmarks depend on it
	}
	if dashboards.Key("A") == dashboards.Key("a") {
		// Keys are lower-cased for plain names; distinct parks "A" and "a" would collide.
		t.Log("plain keys are case-insensitive")
	}
	if dashboards.Key("ENT01") != "ent01" || dashboards.Key("a very long park name") == dashboards.Key("a very long park name 2") {
		t.Error("keys")
	}
}

func TestExpanderRejectsMacrosMissingOn1816(t *testing.T) {
	e := expander{from: time.Unix(100, 0), to: time.Unix(200, 0), interval: time.Minute, vars: map[string][]string{"site": {"A", "B"}}}
	got, err := e.expand("SELECT $__interval_s, ${site:sqlstring} WHERE $__timeFilter(ts) AND x < $__toTime")
	if err != nil {
		t.Fatal(err)
	}
	want := "SELECT 60, 'A','B' WHERE ts >= toDateTime(100) AND ts <= toDateTime(200) AND x < toDateTime(200)"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for _, bad := range []string{"$__timeInterval(ts)", "$__fromTime_ms", "$__timeFilter_ms(ts)", "${nosuch}"} {
		if _, err := e.expand("SELECT " + bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
