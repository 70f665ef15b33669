package grafana

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/dashboards"
)

const token = "glsa_test_token"

var twoParks = []Site{
	{ID: "ENT01", Park: "江北化工园区"},
	{ID: "ENT02", Park: "江北化工园区"},
	{ID: "SH01", Park: "上海化学工业区"},
}

func testConfig(url string) Config {
	ds := DefaultDatasource()
	ds.Addr, ds.Password = "10.0.0.5:9000", "ro-secret"
	return Config{URL: url, Token: token, Lang: "zh", Timeout: 10 * time.Second, Datasource: ds}
}

func provision(t *testing.T, g *fakeGrafana, cfg Config, sites []Site, opt Options) (Report, error) {
	t.Helper()
	p, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return p.Provision(ctx, sites, opt)
}

func mustProvision(t *testing.T, g *fakeGrafana, sites []Site, opt Options) Report {
	t.Helper()
	rep, err := provision(t, g, testConfig(g.URL()), sites, opt)
	if err != nil {
		t.Fatalf("provision: %v (%s)", err, rep.Summary())
	}
	return rep
}

func TestProvisionCreatesDatasourceFoldersTeamsAndDashboards(t *testing.T) {
	g := newFakeGrafana(t, token)
	rep := mustProvision(t, g, twoParks, Options{})

	ds := g.datasources["lifeline-clickhouse"]
	js, _ := ds["jsonData"].(map[string]any)
	if ds["type"] != "grafana-clickhouse-datasource" || js["host"] != "10.0.0.5" || js["port"] != 9000.0 ||
		js["protocol"] != "native" || js["username"] != "lifeline_readonly" || js["defaultDatabase"] != "lifeline" {
		t.Errorf("datasource: %v", ds)
	}
	if g.dsSecure["lifeline-clickhouse"]["password"] != "ro-secret" {
		t.Errorf("password not sent in secureJsonData: %v", g.dsSecure)
	}

	for _, park := range []string{"江北化工园区", "上海化学工业区"} {
		uid := dashboards.FolderUID(park)
		f := g.folders[uid]
		if f == nil || f.Title != park {
			t.Fatalf("folder %s of %s: %+v", uid, park, f)
		}
		// Only the park's team may view the folder.
		if len(f.Perms) != 1 || g.teams[toInt(f.Perms[0]["teamId"])] != TeamName(park) || f.Perms[0]["permission"] != int64(1) {
			t.Errorf("folder %s permissions: %v", uid, f.Perms)
		}
	}
	// Five park dashboards per park, one enterprise dashboard per site.
	if len(g.dashboards) != 5+5+3 {
		t.Errorf("%d dashboards, want 13", len(g.dashboards))
	}
	for uid, d := range g.dashboards {
		if !strings.HasPrefix(uid, d.FolderUID) {
			t.Errorf("dashboard %s in folder %s", uid, d.FolderUID)
		}
		if !strings.Contains(d.Model["title"].(string), "·") || !slicesContains(tagsOf(d.Model), dashboards.ManagedTag) {
			t.Errorf("dashboard %s: %v %v", uid, d.Model["title"], d.Model["tags"])
		}
	}
	if rep.Count(Created) != 1+2+2+13 || rep.Count(Updated) != 2 { // permissions replace Grafana's defaults
		t.Errorf("report: %s", rep.Summary())
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestSecondRunChangesNothing(t *testing.T) {
	g := newFakeGrafana(t, token)
	mustProvision(t, g, twoParks, Options{})
	before := map[string]string{}
	for uid := range g.dashboards {
		before[uid] = g.snapshot(uid)
	}
	g.resetRequests()

	rep := mustProvision(t, g, twoParks, Options{Prune: true})
	if m := g.mutations(); len(m) != 0 {
		t.Errorf("second run wrote: %v", m)
	}
	if n := len(rep.Changes); rep.Count(Unchanged) != n {
		t.Errorf("second run: %s", rep.Summary())
	}
	for uid, s := range before {
		if g.snapshot(uid) != s {
			t.Errorf("dashboard %s changed", uid)
		}
	}
}

func TestSiteAddedAndRemoved(t *testing.T) {
	g := newFakeGrafana(t, token)
	mustProvision(t, g, twoParks, Options{})
	ent03 := dashboards.UID("江北化工园区", dashboards.KindEnterprise, "ENT03")
	ent02 := dashboards.UID("江北化工园区", dashboards.KindEnterprise, "ENT02")

	// A site joins: its enterprise dashboard appears; nothing else is written.
	g.resetRequests()
	added := append(append([]Site{}, twoParks...), Site{ID: "ENT03", Park: "江北化工园区"})
	rep := mustProvision(t, g, added, Options{})
	if g.dashboards[ent03] == nil || g.dashboards[ent03].FolderUID != dashboards.FolderUID("江北化工园区") {
		t.Fatalf("ENT03's dashboard missing: %v", rep.Changes)
	}
	if m := g.mutations(); len(m) != 1 || m[0] != "POST /api/dashboards/db" {
		t.Errorf("adding a site wrote %v", m)
	}

	// A site leaves: without prune its dashboard stays and is reported.
	gone := []Site{twoParks[0], twoParks[2]}
	rep = mustProvision(t, g, gone, Options{})
	if g.dashboards[ent02] == nil || g.dashboards[ent03] == nil || rep.Count(Stale) != 2 {
		t.Errorf("without prune: %s", rep.Summary())
	}
	// With prune it goes; the park's folder and other dashboards stay.
	rep = mustProvision(t, g, gone, Options{Prune: true})
	if g.dashboards[ent02] != nil || g.dashboards[ent03] != nil || rep.Count(Deleted) != 2 {
		t.Errorf("with prune: %s", rep.Summary())
	}
	if g.folders[dashboards.FolderUID("江北化工园区")] == nil || len(g.dashboards) != 5+5+2 {
		t.Errorf("prune removed too much: %d dashboards", len(g.dashboards))
	}

	// A whole park leaves: its dashboards and its emptied folder go.
	rep = mustProvision(t, g, []Site{twoParks[0]}, Options{Prune: true})
	if g.folders[dashboards.FolderUID("上海化学工业区")] != nil || len(g.dashboards) != 6 {
		t.Errorf("park removal: %d dashboards left, report %s", len(g.dashboards), rep.Summary())
	}
}

func TestForeignDashboardsAreNeverTouched(t *testing.T) {
	g := newFakeGrafana(t, token)
	mustProvision(t, g, twoParks, Options{})
	shFolder := dashboards.FolderUID("上海化学工业区")
	// Someone's own dashboards: one at the root, one they put in the park's
	// folder, one tagged "lifeline" but not managed.
	g.putForeign("mine-root", "My board", "")
	g.putForeign("mine-in-park", "Operator notes", shFolder)
	g.putForeign("mine-tagged", "Lifeline copy", "", dashboards.ProductTag)
	before := map[string]string{}
	for _, uid := range []string{"mine-root", "mine-in-park", "mine-tagged"} {
		before[uid] = g.snapshot(uid)
	}

	// Remove the Shanghai park, with prune.
	rep := mustProvision(t, g, twoParks[:2], Options{Prune: true})
	for uid, s := range before {
		if g.snapshot(uid) != s {
			t.Errorf("foreign dashboard %s changed or removed", uid)
		}
	}
	// The folder still holds someone's dashboard, so it stays.
	if g.folders[shFolder] == nil {
		t.Error("a folder holding a foreign dashboard was deleted")
	}
	for _, c := range rep.Changes {
		if c.Kind == "folder" && c.ID == shFolder && c.Action != Stale {
			t.Errorf("folder %s: %s", shFolder, c.Action)
		}
	}
}

func TestDashboardWithOurUIDButNotOursIsAConflict(t *testing.T) {
	g := newFakeGrafana(t, token)
	uid := dashboards.UID("江北化工园区", dashboards.KindAgents, "")
	mustProvision(t, g, twoParks, Options{})
	// Someone replaced it with their own (no managed tag).
	g.mu.Lock()
	delete(g.dashboards, uid)
	g.mu.Unlock()
	g.putForeign(uid, "Hand made", dashboards.FolderUID("江北化工园区"))
	before := g.snapshot(uid)

	rep, err := provision(t, g, testConfig(g.URL()), twoParks, Options{Prune: true})
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.ID != uid {
		t.Fatalf("want a conflict on %s, got %v", uid, err)
	}
	if g.snapshot(uid) != before {
		t.Error("the foreign dashboard was overwritten")
	}
	if rep.Count(Conflict) != 1 || rep.Count(Unchanged) != len(rep.Changes)-1 {
		t.Errorf("report: %s", rep.Summary())
	}
}

func TestTitleTakenInFolderIsAConflict(t *testing.T) {
	g := newFakeGrafana(t, token)
	// Provision the folder, then someone adds a dashboard named like ours.
	cfg := testConfig(g.URL())
	st, _ := Desired(cfg, twoParks)
	var title, folder string
	for _, d := range st.Parks[1].Dashboards {
		if d.Kind == dashboards.KindAlarms {
			title, folder = d.Title, st.Parks[1].FolderUID
		}
	}
	mustProvision(t, g, twoParks, Options{})
	g.mu.Lock()
	delete(g.dashboards, dashboards.UID(st.Parks[1].Park, dashboards.KindAlarms, ""))
	g.mu.Unlock()
	g.putForeign("someone-else", title, folder)

	_, err := provision(t, g, cfg, twoParks, Options{})
	var ce *ConflictError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "titled") {
		t.Fatalf("want a name-exists conflict, got %v", err)
	}
	if g.dashboards["someone-else"].Version != 3 {
		t.Error("foreign dashboard changed")
	}
}

func TestVersionMismatchIsReadAgainAndRetried(t *testing.T) {
	g := newFakeGrafana(t, token)
	mustProvision(t, g, twoParks, Options{})
	uid := dashboards.UID("江北化工园区", dashboards.KindOverview, "")

	// Someone edits our dashboard; then, between our read and our save,
	// edits it again.
	g.mu.Lock()
	g.dashboards[uid].Model["title"] = "edited by hand"
	g.dashboards[uid].Version++
	raced := false
	g.beforeSave = func(u string) {
		if u == uid && !raced {
			raced = true
			g.dashboards[uid].Version++
		}
	}
	g.mu.Unlock()

	rep := mustProvision(t, g, twoParks, Options{})
	if !raced {
		t.Fatal("the concurrent edit did not happen")
	}
	d := g.dashboards[uid]
	if d.Model["title"] == "edited by hand" || d.Version != 4 { // 1 created, 2 and 3 by hand, 4 restored
		t.Errorf("after retry: title %v version %d", d.Model["title"], d.Version)
	}
	if rep.Count(Updated) != 1 {
		t.Errorf("report: %s", rep.Summary())
	}

	// A dashboard that changes on every attempt ends in an error, not a loop.
	g.mu.Lock()
	g.dashboards[uid].Model["title"] = "edited again"
	g.beforeSave = func(u string) {
		if u == uid {
			g.dashboards[uid].Version++
		}
	}
	g.mu.Unlock()
	if _, err := provision(t, g, testConfig(g.URL()), twoParks, Options{}); err == nil || !strings.Contains(err.Error(), "kept changing") {
		t.Errorf("want an error after %d attempts, got %v", maxAttempts, err)
	}
}

func TestDriftIsRepaired(t *testing.T) {
	g := newFakeGrafana(t, token)
	mustProvision(t, g, twoParks, Options{})
	folder := dashboards.FolderUID("江北化工园区")
	g.mu.Lock()
	// An administrator opened the folder to every Viewer, renamed it,
	// pointed the data source elsewhere and added a timeout.
	g.folders[folder].Perms = append(g.folders[folder].Perms, map[string]any{"role": "Viewer", "permission": 1})
	g.folders[folder].Title = "renamed"
	g.folders[folder].Version++
	js := g.datasources["lifeline-clickhouse"]["jsonData"].(map[string]any)
	js["port"] = 9440.0
	js["dialTimeout"] = "20"
	g.mu.Unlock()

	rep := mustProvision(t, g, twoParks, Options{})
	if rep.Count(Updated) != 3 {
		t.Errorf("report: %s", rep.Summary())
	}
	if f := g.folders[folder]; f.Title != "江北化工园区" || len(f.Perms) != 1 {
		t.Errorf("folder not repaired: %+v", f)
	}
	js = g.datasources["lifeline-clickhouse"]["jsonData"].(map[string]any)
	if js["port"] != 9000.0 || js["dialTimeout"] != "20" {
		t.Errorf("datasource jsonData: %v", js)
	}
}

func TestAuthentication(t *testing.T) {
	g := newFakeGrafana(t, token)
	cfg := testConfig(g.URL())
	cfg.Token = "wrong"
	_, err := provision(t, g, cfg, twoParks, Options{})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("want a 401, got %v", err)
	}

	// Basic auth, with an organisation.
	b := newFakeGrafana(t, "")
	cfg = testConfig(b.URL())
	cfg.Token, cfg.Username, cfg.Password, cfg.OrgID = "", "admin", "secret", 2
	if _, err := provision(t, b, cfg, twoParks, Options{}); err != nil {
		t.Fatal(err)
	}
	if len(b.orgHeaders) == 0 || b.orgHeaders[0] != "2" {
		t.Errorf("X-Grafana-Org-Id: %v", b.orgHeaders)
	}
}

func TestFolderTitleTakenIsAConflict(t *testing.T) {
	g := newFakeGrafana(t, token)
	g.folders["theirs"] = &fakeFolder{ID: 1, UID: "theirs", Title: "上海化学工业区", Version: 1}
	rep, err := provision(t, g, testConfig(g.URL()), twoParks, Options{})
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Kind != "folder" {
		t.Fatalf("want a folder conflict, got %v", err)
	}
	// The other park is provisioned all the same.
	if g.folders[dashboards.FolderUID("江北化工园区")] == nil || len(g.dashboards) != 5+2 {
		t.Errorf("other park: %d dashboards; %s", len(g.dashboards), rep.Summary())
	}
}

func TestConfigValidation(t *testing.T) {
	c := Config{Datasource: DefaultDatasource()}
	if err := c.Validate(true); err != nil {
		t.Errorf("dry run needs no URL: %v", err)
	}
	err := Config{URL: "ftp://x", Lang: "fr", Datasource: Datasource{UID: "bad uid!", Addr: "nohost"}}.Validate(false)
	for _, want := range []string{"grafana.url", "token", "grafana.lang", "grafana.datasource.uid", "grafana.datasource.addr", "name"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}
