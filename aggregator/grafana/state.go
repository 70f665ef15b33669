package grafana

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/lifeline-telemetry/lifeline/dashboards"
)

// Site is one enterprise and its park, as the registry lists them.
type Site struct {
	ID   string
	Park string
}

// State is what Grafana should hold for a set of sites.
type State struct {
	Datasource Datasource
	Parks      []ParkState
}

// ParkState is one park's folder, team and dashboards.
type ParkState struct {
	Park        string
	FolderUID   string
	FolderTitle string
	Team        string
	Dashboards  []dashboards.Dashboard
}

// TeamName is the name of the team whose members may view a park's folder.
func TeamName(park string) string { return park + " · Lifeline" }

// Desired builds the state for sites: one folder, team and set of
// dashboards per park, parks sorted by name. Sites without a park are
// skipped: no park's operators may see them.
func Desired(c Config, sites []Site) (State, error) {
	lang, err := dashboards.ParseLang(c.Lang)
	if err != nil {
		return State{}, err
	}
	byPark := map[string][]string{}
	for _, s := range sites {
		if s.Park == "" || s.ID == "" {
			continue
		}
		byPark[s.Park] = append(byPark[s.Park], s.ID)
	}
	parks := make([]string, 0, len(byPark))
	for p := range byPark {
		parks = append(parks, p)
	}
	sort.Strings(parks)
	st := State{Datasource: c.Datasource}
	for _, park := range parks {
		ids := byPark[park]
		sort.Strings(ids)
		ds, err := dashboards.Build(dashboards.Park{Name: park, Sites: ids},
			dashboards.Options{Lang: lang, DatasourceUID: c.Datasource.UID, AckOverdueMinutes: int(c.AckOverdue / time.Minute)})
		if err != nil {
			return State{}, err
		}
		st.Parks = append(st.Parks, ParkState{Park: park, FolderUID: dashboards.FolderUID(park),
			FolderTitle: park, Team: TeamName(park), Dashboards: ds})
	}
	return st, nil
}

// datasourceJSON returns the plugin's jsonData (grafana-clickhouse-datasource
// v4 field names) and secureJsonData.
func datasourceJSON(d Datasource) (map[string]any, map[string]string, error) {
	host, portText, err := net.SplitHostPort(d.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("datasource addr %q: %w", d.Addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, nil, fmt.Errorf("datasource addr %q: port: %w", d.Addr, err)
	}
	js := map[string]any{
		"host": host, "port": port, "protocol": "native", "secure": d.Secure,
		"username": d.Username, "defaultDatabase": d.Database,
	}
	var secure map[string]string
	if d.Password != "" {
		secure = map[string]string{"password": d.Password}
	}
	return js, secure, nil
}
