package grafana

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/go-openapi/runtime"
	goapi "github.com/grafana/grafana-openapi-client-go/client"
	"github.com/grafana/grafana-openapi-client-go/client/folders"
	"github.com/grafana/grafana-openapi-client-go/client/search"
	"github.com/grafana/grafana-openapi-client-go/client/teams"
	"github.com/grafana/grafana-openapi-client-go/models"

	"github.com/lifeline-telemetry/lifeline/dashboards"
)

// Action is what provisioning did to one object.
type Action string

// Actions.
const (
	Created   Action = "created"
	Updated   Action = "updated"
	Unchanged Action = "unchanged"
	Deleted   Action = "deleted"
	// Stale: a dashboard of a site or park no longer registered, kept
	// because pruning was not asked for.
	Stale Action = "stale"
	// Conflict: held by someone else and left alone (see ConflictError).
	Conflict Action = "conflict"
)

// Change is one object's outcome.
type Change struct {
	Kind   string // datasource, folder, team, permissions, dashboard
	ID     string
	Action Action
}

// Report lists what a provisioning run did, in order.
type Report struct {
	Changes []Change
}

// Count returns how many objects had action a.
func (r Report) Count(a Action) int {
	n := 0
	for _, c := range r.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// Summary is a one-line account of the run.
func (r Report) Summary() string {
	var parts []string
	for _, a := range []Action{Created, Updated, Unchanged, Deleted, Stale, Conflict} {
		if n := r.Count(a); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, a))
		}
	}
	if len(parts) == 0 {
		return "nothing to do"
	}
	return strings.Join(parts, ", ")
}

func (r *Report) add(kind, id string, a Action) { r.Changes = append(r.Changes, Change{kind, id, a}) }

// Options of one run.
type Options struct {
	// Prune deletes Lifeline's dashboards of sites and parks no longer
	// registered, and then their folders when nothing else is in them.
	// Without it they are reported as stale.
	Prune bool
}

// Provisioner writes the desired state to one Grafana.
type Provisioner struct {
	cfg    Config
	api    *goapi.GrafanaHTTPAPI
	hc     *http.Client
	logger *slog.Logger
}

// New validates cfg and returns a Provisioner. It does no I/O.
func New(cfg Config, logger *slog.Logger) (*Provisioner, error) {
	if err := cfg.Validate(false); err != nil {
		return nil, err
	}
	api, hc, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Provisioner{cfg: cfg, api: api, hc: hc, logger: logger}, nil
}

// Close releases idle connections. It is idempotent.
func (p *Provisioner) Close() { p.hc.CloseIdleConnections() }

// maxAttempts bounds the re-reads after Grafana answers that an object
// changed under us (412 version-mismatch).
const maxAttempts = 3

// Provision makes Grafana hold the state for sites. Conflicts (objects held
// by someone else) are skipped, reported, and returned joined as the error
// once everything else is done; any other error stops the run.
func (p *Provisioner) Provision(ctx context.Context, sites []Site, opt Options) (Report, error) {
	st, err := Desired(p.cfg, sites)
	if err != nil {
		return Report{}, err
	}
	r := &outcomes{logger: p.logger}
	a, err := p.ensureDatasource(ctx, st.Datasource)
	if err := r.step("datasource", st.Datasource.UID, a, err); err != nil {
		return r.rep, err
	}
	want := map[string]bool{}
	wantFolders := map[string]bool{}
	for _, ps := range st.Parks {
		wantFolders[ps.FolderUID] = true
		if err := p.provisionPark(ctx, r, ps, want); err != nil {
			return r.rep, err
		}
	}
	if err := p.removeUnwanted(ctx, r, want, wantFolders, opt); err != nil {
		return r.rep, err
	}
	return r.rep, errors.Join(r.conflicts...)
}

// outcomes gathers what a Provision run did to each object.
type outcomes struct {
	rep       Report
	conflicts []error
	logger    *slog.Logger
}

// step records the outcome of one object: a conflict is noted and the
// run goes on; any other error ends it.
func (r *outcomes) step(kind, id string, a Action, err error) error {
	var ce *ConflictError
	if errors.As(err, &ce) {
		r.rep.add(kind, id, Conflict)
		r.conflicts = append(r.conflicts, err)
		r.logger.Warn("grafana conflict", "kind", kind, "id", id, "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	r.rep.add(kind, id, a)
	if a != Unchanged {
		r.logger.Info("grafana "+string(a), "kind", kind, "id", id)
	}
	return nil
}

// provisionPark makes the park's folder, team, permissions and dashboards;
// the dashboards it holds are added to want.
func (p *Provisioner) provisionPark(ctx context.Context, r *outcomes, ps ParkState, want map[string]bool) error {
	a, err := p.ensureFolder(ctx, ps.FolderUID, ps.FolderTitle)
	if err := r.step("folder", ps.FolderUID, a, err); err != nil {
		return err
	}
	if a == "" { // the folder is someone else's: nothing goes in it
		return nil
	}
	teamID, a, err := p.ensureTeam(ctx, ps.Team)
	if err := r.step("team", ps.Team, a, err); err != nil {
		return err
	}
	a, err = p.ensurePermissions(ctx, ps.FolderUID, teamID)
	if err := r.step("permissions", ps.FolderUID, a, err); err != nil {
		return err
	}
	for _, d := range ps.Dashboards {
		want[d.UID] = true
		a, err := p.ensureDashboard(ctx, d, ps.FolderUID)
		if err := r.step("dashboard", d.UID, a, err); err != nil {
			return err
		}
	}
	return nil
}

// removeUnwanted reports the dashboards Lifeline owns that are not wanted
// any more or, with opt.Prune, deletes them and the folders they leave
// empty.
func (p *Provisioner) removeUnwanted(ctx context.Context, r *outcomes, want, wantFolders map[string]bool, opt Options) error {
	owned, err := p.ownedDashboards(ctx)
	if err != nil {
		return err
	}
	emptied := map[string]bool{}
	for _, h := range owned {
		if want[h.UID] {
			continue
		}
		if !opt.Prune {
			r.rep.add("dashboard", h.UID, Stale)
			p.logger.Warn("grafana dashboard of an unregistered site or park kept; prune removes it", "uid", h.UID, "title", h.Title)
			continue
		}
		if _, err := p.api.Dashboards.DeleteDashboardByUID(h.UID, ctxOpt(ctx)); err != nil && statusOf(err) != http.StatusNotFound {
			return wrap("delete dashboard", h.UID, err)
		}
		r.rep.add("dashboard", h.UID, Deleted)
		p.logger.Info("grafana deleted", "kind", "dashboard", "uid", h.UID)
		if h.FolderUID != "" && !wantFolders[h.FolderUID] && strings.HasPrefix(h.FolderUID, "ll-") {
			emptied[h.FolderUID] = true
		}
	}
	for _, uid := range sortedKeys(emptied) {
		a, err := p.deleteFolderIfEmpty(ctx, uid)
		if err := r.step("folder", uid, a, err); err != nil {
			return err
		}
	}
	return nil
}

// ctxOpt makes a call use ctx; it fits every API package's ClientOption.
func ctxOpt(ctx context.Context) func(*runtime.ClientOperation) {
	return func(op *runtime.ClientOperation) { op.Context = ctx }
}

func (p *Provisioner) ensureDatasource(ctx context.Context, d Datasource) (Action, error) {
	js, secure, err := datasourceJSON(d)
	if err != nil {
		return "", err
	}
	got, err := p.api.Datasources.GetDataSourceByUID(d.UID, ctxOpt(ctx))
	if statusOf(err) == http.StatusNotFound {
		_, err := p.api.Datasources.AddDataSource(&models.AddDataSourceCommand{
			UID: d.UID, Name: d.Name, Type: dashboards.DatasourceType, Access: "proxy",
			JSONData: js, SecureJSONData: secure,
		}, ctxOpt(ctx))
		if statusOf(err) == http.StatusConflict {
			return "", &ConflictError{"datasource", d.UID, fmt.Sprintf("a data source named %q already exists", d.Name)}
		}
		if err != nil {
			return "", wrap("create datasource", d.UID, err)
		}
		return Created, nil
	}
	if err != nil {
		return "", wrap("get datasource", d.UID, err)
	}
	cur := got.Payload
	merged := map[string]any{}
	if m, ok := cur.JSONData.(map[string]any); ok {
		for k, v := range m {
			merged[k] = v
		}
	}
	same := cur.Name == d.Name && cur.Type == dashboards.DatasourceType && cur.Access == "proxy"
	for k, v := range js {
		if fmt.Sprint(merged[k]) != fmt.Sprint(v) {
			same = false
		}
		merged[k] = v // keep settings an administrator added (timeouts, …)
	}
	if secure != nil && !cur.SecureJSONFields["password"] {
		same = false
	}
	if same {
		return Unchanged, nil
	}
	_, err = p.api.Datasources.UpdateDataSourceByUID(d.UID, &models.UpdateDataSourceCommand{
		UID: d.UID, Name: d.Name, Type: dashboards.DatasourceType, Access: "proxy",
		JSONData: merged, SecureJSONData: secure, Version: cur.Version,
	}, ctxOpt(ctx))
	if statusOf(err) == http.StatusConflict {
		return "", &ConflictError{"datasource", d.UID, "changed by someone else during the update, or its name is taken"}
	}
	if err != nil {
		return "", wrap("update datasource", d.UID, err)
	}
	return Updated, nil
}

func (p *Provisioner) ensureFolder(ctx context.Context, uid, title string) (Action, error) {
	for range maxAttempts {
		got, err := p.api.Folders.GetFolderByUID(uid, ctxOpt(ctx))
		if statusOf(err) == http.StatusNotFound {
			_, err := p.api.Folders.CreateFolder(&models.CreateFolderCommand{UID: uid, Title: title}, ctxOpt(ctx))
			switch statusOf(err) {
			case 0:
				if err != nil {
					return "", wrap("create folder", uid, err)
				}
				return Created, nil
			case http.StatusConflict, http.StatusPreconditionFailed:
				// Taken by a folder created meanwhile, or the title by a
				// foreign folder: look again, then give up.
				if _, gerr := p.api.Folders.GetFolderByUID(uid, ctxOpt(ctx)); gerr == nil {
					continue
				}
				return "", &ConflictError{"folder", uid, fmt.Sprintf("a folder titled %q already exists", title)}
			}
			return "", wrap("create folder", uid, err)
		}
		if err != nil {
			return "", wrap("get folder", uid, err)
		}
		if got.Payload.Title == title {
			return Unchanged, nil
		}
		_, err = p.api.Folders.UpdateFolder(uid, &models.UpdateFolderCommand{Title: title, Version: got.Payload.Version}, ctxOpt(ctx))
		switch statusOf(err) {
		case 0:
			if err != nil {
				return "", wrap("update folder", uid, err)
			}
			return Updated, nil
		case http.StatusPreconditionFailed:
			continue // changed meanwhile: read it again
		case http.StatusConflict:
			return "", &ConflictError{"folder", uid, fmt.Sprintf("the title %q is taken", title)}
		}
		return "", wrap("update folder", uid, err)
	}
	return "", fmt.Errorf("grafana: folder %s kept changing during %d attempts", uid, maxAttempts)
}

func (p *Provisioner) findTeam(ctx context.Context, name string) (int64, bool, error) {
	params := teams.NewSearchTeamsParamsWithContext(ctx)
	params.Name = &name
	res, err := p.api.Teams.SearchTeams(params)
	if err != nil {
		return 0, false, wrap("search team", name, err)
	}
	if res.Payload != nil {
		for _, t := range res.Payload.Teams {
			if t != nil && t.Name != nil && *t.Name == name && t.ID != nil {
				return *t.ID, true, nil
			}
		}
	}
	return 0, false, nil
}

func (p *Provisioner) ensureTeam(ctx context.Context, name string) (int64, Action, error) {
	id, ok, err := p.findTeam(ctx, name)
	if err != nil || ok {
		return id, Unchanged, err
	}
	res, err := p.api.Teams.CreateTeam(&models.CreateTeamCommand{Name: &name}, ctxOpt(ctx))
	if statusOf(err) == http.StatusConflict { // created meanwhile
		id, ok, err := p.findTeam(ctx, name)
		if err == nil && !ok {
			err = fmt.Errorf("grafana: team %q: name taken, yet not found", name)
		}
		return id, Unchanged, err
	}
	if err != nil {
		return 0, "", wrap("create team", name, err)
	}
	return res.Payload.TeamID, Created, nil
}

// ensurePermissions leaves the park's team as the only one who may view the
// folder: no Viewer or Editor role entry, no other team or user (Grafana
// admins always see everything).
func (p *Provisioner) ensurePermissions(ctx context.Context, folderUID string, teamID int64) (Action, error) {
	list, err := p.api.Folders.GetFolderPermissionList(folderUID, ctxOpt(ctx))
	if err != nil {
		return "", wrap("get folder permissions", folderUID, err)
	}
	var own []*models.DashboardACLInfoDTO
	for _, it := range list.Payload {
		if it == nil || it.Inherited || it.Role == "Admin" {
			continue
		}
		own = append(own, it)
	}
	if len(own) == 1 && own[0].TeamID == teamID && own[0].UserID == 0 && own[0].Role == "" && own[0].Permission == 1 {
		return Unchanged, nil
	}
	_, err = p.api.Folders.UpdateFolderPermissions(folderUID, &models.UpdateDashboardACLCommand{
		Items: []*models.DashboardACLUpdateItem{{TeamID: teamID, Permission: 1}},
	}, ctxOpt(ctx))
	if err != nil {
		return "", wrap("set folder permissions", folderUID, err)
	}
	return Updated, nil
}

func (p *Provisioner) ensureDashboard(ctx context.Context, d dashboards.Dashboard, folderUID string) (Action, error) {
	want, err := canonical(d.Model)
	if err != nil {
		return "", fmt.Errorf("dashboard %s: %w", d.UID, err)
	}
	for range maxAttempts {
		model := map[string]any{}
		for k, v := range d.Model {
			model[k] = v
		}
		action := Created
		got, err := p.api.Dashboards.GetDashboardByUID(d.UID, ctxOpt(ctx))
		switch {
		case statusOf(err) == http.StatusNotFound:
		case err != nil:
			return "", wrap("get dashboard", d.UID, err)
		default:
			cur, _ := got.Payload.Dashboard.(map[string]any)
			if !hasTag(cur, dashboards.ManagedTag) {
				return "", &ConflictError{"dashboard", d.UID, "exists without the " + dashboards.ManagedTag + " tag"}
			}
			if got.Payload.Meta != nil && got.Payload.Meta.FolderUID == folderUID {
				if have, err := canonical(cur); err == nil && have == want {
					return Unchanged, nil
				}
			}
			if got.Payload.Meta != nil {
				model["version"] = got.Payload.Meta.Version
			}
			if id, ok := cur["id"]; ok {
				model["id"] = id
			}
			action = Updated
		}
		_, err = p.api.Dashboards.PostDashboard(&models.SaveDashboardCommand{
			Dashboard: model, FolderUID: folderUID, Overwrite: false,
			Message: "provisioned by lifeline-aggregator",
		}, ctxOpt(ctx))
		if err == nil {
			return action, nil
		}
		if statusOf(err) == http.StatusPreconditionFailed {
			switch grafanaStatus(err) {
			case "version-mismatch":
				continue // changed since we read it: read it again
			case "name-exists":
				return "", &ConflictError{"dashboard", d.UID, fmt.Sprintf("another dashboard titled %q is in folder %s", d.Title, folderUID)}
			case "plugin-dashboard":
				return "", &ConflictError{"dashboard", d.UID, "a plugin's dashboard has this UID"}
			}
		}
		return "", wrap("save dashboard", d.UID, err)
	}
	return "", fmt.Errorf("grafana: dashboard %s kept changing during %d attempts", d.UID, maxAttempts)
}

// canonical is the dashboard's JSON without the fields Grafana sets on
// save, with sorted keys: equal strings mean equal dashboards.
func canonical(m map[string]any) (string, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	var c map[string]any
	if err := json.Unmarshal(data, &c); err != nil {
		return "", err
	}
	delete(c, "id")
	delete(c, "version")
	out, err := json.Marshal(c)
	return string(out), err
}

func hasTag(m map[string]any, tag string) bool {
	tags, _ := m["tags"].([]any)
	for _, t := range tags {
		if t == tag {
			return true
		}
	}
	return false
}

// ownedDashboards lists every dashboard with the managed tag.
func (p *Provisioner) ownedDashboards(ctx context.Context) ([]*models.Hit, error) {
	const pageSize = 1000
	var out []*models.Hit
	for page := int64(1); ; page++ {
		params := search.NewSearchParamsWithContext(ctx)
		typ, limit, pg := "dash-db", int64(pageSize), page
		params.Type, params.Tag, params.Limit, params.Page = &typ, []string{dashboards.ManagedTag}, &limit, &pg
		res, err := p.api.Search.Search(params)
		if err != nil {
			return nil, wrap("search", "dashboards tagged "+dashboards.ManagedTag, err)
		}
		for _, h := range res.Payload {
			// Search matches the tag; check it anyway before anything is deleted.
			if h != nil && slices.Contains(h.Tags, dashboards.ManagedTag) {
				out = append(out, h)
			}
		}
		if len(res.Payload) < pageSize {
			return out, nil
		}
	}
}

// deleteFolderIfEmpty removes a park's folder once its dashboards are gone,
// unless anything else (someone's own dashboard) is still in it.
func (p *Provisioner) deleteFolderIfEmpty(ctx context.Context, uid string) (Action, error) {
	params := search.NewSearchParamsWithContext(ctx)
	params.FolderUIDs = []string{uid}
	res, err := p.api.Search.Search(params)
	if err != nil {
		return "", wrap("search folder", uid, err)
	}
	if len(res.Payload) > 0 {
		return Stale, nil
	}
	force := false
	dp := folders.NewDeleteFolderParamsWithContext(ctx)
	dp.FolderUID, dp.ForceDeleteRules = uid, &force
	if _, err := p.api.Folders.DeleteFolder(dp); err != nil && statusOf(err) != http.StatusNotFound {
		return "", wrap("delete folder", uid, err)
	}
	return Deleted, nil
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
