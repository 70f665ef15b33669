package grafana

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeGrafana answers the calls the provisioner makes the way Grafana's
// HTTP API documents them: paths and methods, the Authorization header,
// JSON bodies with the fields Grafana requires, status codes (401, 404,
// 409 for taken names, 412 version-mismatch and name-exists for
// dashboards, 412 for a stale folder version, 409 for a stale data source
// version), versions that grow by one on every save, and folder
// permissions that replace the whole list.
type fakeGrafana struct {
	t     *testing.T
	srv   *httptest.Server
	token string // service account token; "" means basic auth admin:secret

	mu          sync.Mutex
	nextID      int64
	datasources map[string]map[string]any // by uid
	dsSecure    map[string]map[string]string
	folders     map[string]*fakeFolder
	teams       map[int64]string
	dashboards  map[string]*fakeDashboard // by uid
	requests    []string                  // "METHOD /path"
	// beforeSave, when set, runs (locked) before a dashboard save is
	// checked: tests use it to change a dashboard "concurrently".
	beforeSave func(uid string)
	orgHeaders []string
}

type fakeFolder struct {
	ID      int64
	UID     string
	Title   string
	Version int64
	Perms   []map[string]any
}

type fakeDashboard struct {
	ID        int64
	Model     map[string]any
	FolderUID string
	Version   int64
}

func newFakeGrafana(t *testing.T, token string) *fakeGrafana {
	g := &fakeGrafana{t: t, token: token, nextID: 100,
		datasources: map[string]map[string]any{}, dsSecure: map[string]map[string]string{},
		folders: map[string]*fakeFolder{}, teams: map[int64]string{}, dashboards: map[string]*fakeDashboard{}}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGrafana) URL() string { return g.srv.URL }

// mutations counts the requests that could change state.
func (g *fakeGrafana) mutations() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, r := range g.requests {
		if !strings.HasPrefix(r, "GET ") {
			out = append(out, r)
		}
	}
	return out
}

func (g *fakeGrafana) resetRequests() {
	g.mu.Lock()
	g.requests = nil
	g.mu.Unlock()
}

func reply(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

func msg(text string) map[string]any { return map[string]any{"message": text} }

func (g *fakeGrafana) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if g.token != "" {
		return h == "Bearer "+g.token
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:secret"))
	return h == want
}

func (g *fakeGrafana) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests = append(g.requests, r.Method+" "+r.URL.Path)
	if v := r.Header.Get("X-Grafana-Org-Id"); v != "" {
		g.orgHeaders = append(g.orgHeaders, v)
	}
	if !g.authorized(r) {
		reply(w, http.StatusUnauthorized, msg("Unauthorized"))
		return
	}
	var body map[string]any
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct != "application/json" {
			reply(w, http.StatusUnsupportedMediaType, msg("want application/json, got "+ct))
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			reply(w, http.StatusBadRequest, msg("bad request data: "+err.Error()))
			return
		}
	}
	p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	route := r.Method + " " + strings.Join(p, "/")
	switch {
	case len(p) == 4 && p[0] == "api" && p[1] == "datasources" && p[2] == "uid":
		g.datasource(w, r, p[3], body)
	case route == "POST api/datasources":
		g.addDatasource(w, body)
	case route == "POST api/folders":
		g.createFolder(w, body)
	case len(p) == 3 && p[0] == "api" && p[1] == "folders":
		g.folder(w, r, p[2], body)
	case len(p) == 4 && p[0] == "api" && p[1] == "folders" && p[3] == "permissions":
		g.permissions(w, r, p[2], body)
	case route == "GET api/teams/search":
		g.searchTeams(w, r)
	case route == "POST api/teams":
		g.createTeam(w, body)
	case route == "POST api/dashboards/db":
		g.saveDashboard(w, body)
	case len(p) == 4 && p[0] == "api" && p[1] == "dashboards" && p[2] == "uid":
		g.dashboard(w, r, p[3])
	case route == "GET api/search":
		g.search(w, r)
	default:
		g.t.Errorf("fake grafana: unexpected %s %s", r.Method, r.URL.Path)
		reply(w, http.StatusNotFound, msg("Not found"))
	}
}

// --- data sources ---

func (g *fakeGrafana) datasource(w http.ResponseWriter, r *http.Request, uid string, body map[string]any) {
	ds, ok := g.datasources[uid]
	if !ok {
		reply(w, http.StatusNotFound, msg("Data source not found"))
		return
	}
	switch r.Method {
	case http.MethodGet:
		out := map[string]any{}
		for k, v := range ds {
			out[k] = v
		}
		fields := map[string]any{}
		for k := range g.dsSecure[uid] {
			fields[k] = true
		}
		out["secureJsonFields"] = fields // secrets are never returned
		reply(w, http.StatusOK, out)
	case http.MethodPut:
		if v, _ := body["version"].(float64); v != 0 && int64(v) != int64(ds["version"].(float64)) {
			reply(w, http.StatusConflict, msg("Datasource has already been updated by someone else. Please reload and try again"))
			return
		}
		if err := checkDatasource(body); err != "" {
			reply(w, http.StatusBadRequest, msg(err))
			return
		}
		g.storeDatasource(uid, ds["id"].(float64), ds["version"].(float64)+1, body)
		reply(w, http.StatusOK, map[string]any{"datasource": g.datasources[uid], "id": ds["id"], "message": "Datasource updated", "name": body["name"]})
	default:
		reply(w, http.StatusMethodNotAllowed, msg("method"))
	}
}

func checkDatasource(b map[string]any) string {
	if b["name"] == "" || b["name"] == nil || b["type"] != "grafana-clickhouse-datasource" || b["access"] != "proxy" {
		return "want name, type grafana-clickhouse-datasource and access proxy"
	}
	js, _ := b["jsonData"].(map[string]any)
	if js == nil || js["host"] == nil || js["protocol"] != "native" || js["username"] == nil || js["defaultDatabase"] == nil {
		return "jsonData: want host, port, protocol native, username, defaultDatabase (plugin v4 names)"
	}
	if _, ok := js["port"].(float64); !ok {
		return "jsonData.port: want a number"
	}
	return ""
}

func (g *fakeGrafana) addDatasource(w http.ResponseWriter, body map[string]any) {
	if err := checkDatasource(body); err != "" {
		reply(w, http.StatusBadRequest, msg(err))
		return
	}
	for _, ds := range g.datasources {
		if ds["name"] == body["name"] {
			reply(w, http.StatusConflict, msg("data source with the same name already exists"))
			return
		}
	}
	uid, _ := body["uid"].(string)
	g.nextID++
	g.storeDatasource(uid, float64(g.nextID), 1, body)
	reply(w, http.StatusOK, map[string]any{"datasource": g.datasources[uid], "id": g.nextID, "message": "Datasource added", "name": body["name"]})
}

func (g *fakeGrafana) storeDatasource(uid string, id, version float64, body map[string]any) {
	ds := map[string]any{"id": id, "uid": uid, "orgId": 1, "version": version}
	for _, k := range []string{"name", "type", "access", "url", "jsonData"} {
		if v, ok := body[k]; ok {
			ds[k] = v
		}
	}
	g.datasources[uid] = ds
	if sec, ok := body["secureJsonData"].(map[string]any); ok {
		m := g.dsSecure[uid]
		if m == nil {
			m = map[string]string{}
		}
		for k, v := range sec {
			m[k] = fmt.Sprint(v)
		}
		g.dsSecure[uid] = m
	}
}

// --- folders and permissions ---

func folderJSON(f *fakeFolder) map[string]any {
	return map[string]any{"id": f.ID, "uid": f.UID, "title": f.Title, "version": f.Version, "url": "/dashboards/f/" + f.UID}
}

func (g *fakeGrafana) createFolder(w http.ResponseWriter, body map[string]any) {
	uid, _ := body["uid"].(string)
	title, _ := body["title"].(string)
	if title == "" {
		reply(w, http.StatusBadRequest, msg("folder title cannot be empty"))
		return
	}
	if _, ok := g.folders[uid]; ok {
		reply(w, http.StatusConflict, msg("a folder with the same uid already exists"))
		return
	}
	for _, f := range g.folders {
		if f.Title == title {
			reply(w, http.StatusConflict, msg("a folder or dashboard in the general folder with the same name already exists"))
			return
		}
	}
	g.nextID++
	f := &fakeFolder{ID: g.nextID, UID: uid, Title: title, Version: 1,
		// What Grafana grants on a new folder: the roles, and its creator.
		Perms: []map[string]any{
			{"role": "Editor", "permission": 2},
			{"role": "Viewer", "permission": 1},
			{"userId": 1, "permission": 4},
		}}
	g.folders[uid] = f
	reply(w, http.StatusOK, folderJSON(f))
}

func (g *fakeGrafana) folder(w http.ResponseWriter, r *http.Request, uid string, body map[string]any) {
	f, ok := g.folders[uid]
	if !ok {
		reply(w, http.StatusNotFound, map[string]any{"message": "folder not found", "status": "not-found"})
		return
	}
	switch r.Method {
	case http.MethodGet:
		reply(w, http.StatusOK, folderJSON(f))
	case http.MethodPut:
		v, _ := body["version"].(float64)
		if ov, _ := body["overwrite"].(bool); !ov && int64(v) != f.Version {
			reply(w, http.StatusPreconditionFailed, map[string]any{"message": "the folder has been changed by someone else", "status": "version-mismatch"})
			return
		}
		f.Title, _ = body["title"].(string)
		f.Version++
		reply(w, http.StatusOK, folderJSON(f))
	case http.MethodDelete:
		if r.URL.Query().Get("forceDeleteRules") == "" {
			g.t.Errorf("fake grafana: DELETE folder without forceDeleteRules")
		}
		for duid, d := range g.dashboards { // Grafana deletes what is inside
			if d.FolderUID == uid {
				delete(g.dashboards, duid)
			}
		}
		delete(g.folders, uid)
		reply(w, http.StatusOK, map[string]any{"message": "Folder deleted", "title": f.Title, "uid": uid})
	default:
		reply(w, http.StatusMethodNotAllowed, msg("method"))
	}
}

func (g *fakeGrafana) permissions(w http.ResponseWriter, r *http.Request, uid string, body map[string]any) {
	f, ok := g.folders[uid]
	if !ok {
		reply(w, http.StatusNotFound, map[string]any{"message": "folder not found", "status": "not-found"})
		return
	}
	switch r.Method {
	case http.MethodGet:
		var out []map[string]any
		for _, p := range f.Perms {
			it := map[string]any{"folderUid": uid, "uid": uid, "isFolder": true, "inherited": false}
			for k, v := range p {
				it[k] = v
			}
			if id, ok := p["teamId"]; ok {
				it["team"] = g.teams[toInt(id)]
			}
			out = append(out, it)
		}
		// Admins always appear, managed by Grafana.
		out = append(out, map[string]any{"role": "Admin", "permission": 4, "folderUid": uid, "inherited": false})
		reply(w, http.StatusOK, out)
	case http.MethodPost:
		items, ok := body["items"].([]any)
		if !ok {
			reply(w, http.StatusBadRequest, msg("items required"))
			return
		}
		var perms []map[string]any
		for _, raw := range items {
			it, _ := raw.(map[string]any)
			perm := toInt(it["permission"])
			if perm != 1 && perm != 2 && perm != 4 {
				reply(w, http.StatusBadRequest, msg("invalid permission"))
				return
			}
			if id, ok := it["teamId"]; ok {
				if _, exists := g.teams[toInt(id)]; !exists {
					reply(w, http.StatusBadRequest, msg("team not found"))
					return
				}
			}
			p := map[string]any{"permission": perm}
			for _, k := range []string{"teamId", "userId", "role"} {
				if v, ok := it[k]; ok {
					p[k] = v
				}
			}
			perms = append(perms, p)
		}
		f.Perms = perms // the list replaces every earlier entry
		reply(w, http.StatusOK, msg("Folder permissions updated"))
	default:
		reply(w, http.StatusMethodNotAllowed, msg("method"))
	}
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case int:
		return int64(x)
	case int64:
		return x
	}
	return 0
}

// --- teams ---

func (g *fakeGrafana) teamJSON(id int64) map[string]any {
	return map[string]any{"id": id, "uid": "t" + strconv.FormatInt(id, 10), "orgId": 1, "name": g.teams[id],
		"email": "", "memberCount": 0, "isProvisioned": false}
}

func (g *fakeGrafana) searchTeams(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name") // exact match, as Grafana does
	teams := []map[string]any{}
	for id, n := range g.teams {
		if name == "" || n == name {
			teams = append(teams, g.teamJSON(id))
		}
	}
	reply(w, http.StatusOK, map[string]any{"totalCount": len(teams), "teams": teams, "page": 1, "perPage": 1000})
}

func (g *fakeGrafana) createTeam(w http.ResponseWriter, body map[string]any) {
	name, _ := body["name"].(string)
	if name == "" {
		reply(w, http.StatusBadRequest, msg("name required"))
		return
	}
	for _, n := range g.teams {
		if n == name {
			reply(w, http.StatusConflict, msg("Team name taken"))
			return
		}
	}
	g.nextID++
	g.teams[g.nextID] = name
	reply(w, http.StatusOK, map[string]any{"message": "Team created", "teamId": g.nextID, "uid": "t" + strconv.FormatInt(g.nextID, 10)})
}

// --- dashboards ---

func (g *fakeGrafana) saveDashboard(w http.ResponseWriter, body map[string]any) {
	model, _ := body["dashboard"].(map[string]any)
	uid, _ := model["uid"].(string)
	title, _ := model["title"].(string)
	folderUID, _ := body["folderUid"].(string)
	overwrite, _ := body["overwrite"].(bool)
	if title == "" {
		reply(w, http.StatusBadRequest, msg("Dashboard title cannot be empty"))
		return
	}
	if len(uid) > 40 {
		reply(w, http.StatusBadRequest, msg("uid too long, max 40 characters"))
		return
	}
	if _, ok := g.folders[folderUID]; folderUID != "" && !ok {
		reply(w, http.StatusBadRequest, msg("folder not found"))
		return
	}
	if g.beforeSave != nil {
		g.beforeSave(uid)
	}
	existing := g.dashboards[uid]
	if existing != nil && !overwrite {
		if v, _ := model["version"].(float64); int64(v) != existing.Version {
			reply(w, http.StatusPreconditionFailed, map[string]any{"message": "The dashboard has been changed by someone else", "status": "version-mismatch"})
			return
		}
	}
	for ouid, d := range g.dashboards {
		if ouid != uid && d.FolderUID == folderUID && d.Model["title"] == title && !overwrite {
			reply(w, http.StatusPreconditionFailed, map[string]any{"message": "A dashboard with the same name in the folder already exists", "status": "name-exists"})
			return
		}
	}
	d := &fakeDashboard{Model: model, FolderUID: folderUID, Version: 1}
	if existing != nil {
		d.ID, d.Version = existing.ID, existing.Version+1
	} else {
		g.nextID++
		d.ID = g.nextID
	}
	model["id"], model["version"] = d.ID, d.Version
	g.dashboards[uid] = d
	reply(w, http.StatusOK, map[string]any{"id": d.ID, "uid": uid, "url": "/d/" + uid, "status": "success",
		"version": d.Version, "slug": "x", "folderUid": folderUID})
}

func (g *fakeGrafana) dashboard(w http.ResponseWriter, r *http.Request, uid string) {
	d, ok := g.dashboards[uid]
	if !ok {
		reply(w, http.StatusNotFound, msg("Dashboard not found"))
		return
	}
	switch r.Method {
	case http.MethodGet:
		title := ""
		if f := g.folders[d.FolderUID]; f != nil {
			title = f.Title
		}
		reply(w, http.StatusOK, map[string]any{"dashboard": d.Model, "meta": map[string]any{
			"type": "db", "canSave": true, "folderUid": d.FolderUID, "folderTitle": title, "version": d.Version,
			"provisioned": false, "slug": "x", "url": "/d/" + uid}})
	case http.MethodDelete:
		delete(g.dashboards, uid)
		reply(w, http.StatusOK, map[string]any{"title": d.Model["title"], "message": "Dashboard deleted", "id": d.ID})
	default:
		reply(w, http.StatusMethodNotAllowed, msg("method"))
	}
}

func (g *fakeGrafana) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tags := q["tag"]
	folderUIDs := q["folderUIDs"]
	if t := q.Get("type"); t != "" && t != "dash-db" && t != "dash-folder" {
		reply(w, http.StatusBadRequest, msg("bad type"))
		return
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	page, _ := strconv.Atoi(q.Get("page"))
	if limit <= 0 {
		limit = 1000
	}
	if page <= 0 {
		page = 1
	}
	var uids []string
	for uid, d := range g.dashboards {
		dt := tagsOf(d.Model)
		ok := true
		for _, t := range tags {
			if !slices.Contains(dt, t) {
				ok = false
			}
		}
		if len(folderUIDs) > 0 && !slices.Contains(folderUIDs, d.FolderUID) {
			ok = false
		}
		if ok {
			uids = append(uids, uid)
		}
	}
	slices.Sort(uids)
	hits := []map[string]any{}
	for i, uid := range uids {
		if i < (page-1)*limit || i >= page*limit {
			continue
		}
		d := g.dashboards[uid]
		hits = append(hits, map[string]any{"id": d.ID, "uid": uid, "title": d.Model["title"], "uri": "db/x",
			"url": "/d/" + uid, "type": "dash-db", "tags": tagsOf(d.Model), "isStarred": false, "folderUid": d.FolderUID})
	}
	reply(w, http.StatusOK, hits)
}

func tagsOf(m map[string]any) []string {
	var out []string
	raw, _ := m["tags"].([]any)
	for _, t := range raw {
		if s, ok := t.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// putForeign stores a dashboard someone made by hand.
func (g *fakeGrafana) putForeign(uid, title, folderUID string, tags ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nextID++
	t := []any{}
	for _, s := range tags {
		t = append(t, s)
	}
	g.dashboards[uid] = &fakeDashboard{ID: g.nextID, FolderUID: folderUID, Version: 3,
		Model: map[string]any{"id": g.nextID, "uid": uid, "title": title, "tags": t, "version": 3, "panels": []any{}}}
}

func (g *fakeGrafana) snapshot(uid string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	d, ok := g.dashboards[uid]
	if !ok {
		return ""
	}
	data, _ := json.Marshal(d)
	return string(data)
}
