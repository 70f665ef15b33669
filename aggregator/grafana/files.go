package grafana

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/lifeline-telemetry/lifeline/dashboards"
	"github.com/lifeline-telemetry/lifeline/proto/atomicfile"
)

// PasswordEnv is the environment variable the data source file names for
// the ClickHouse password: Grafana expands it when it reads the file, so
// the secret is never written to disk.
const PasswordEnv = "LIFELINE_GRAFANA_CLICKHOUSE_PASSWORD"

// FileOptions place the files.
type FileOptions struct {
	// GrafanaPath is where Grafana will find the dashboards directory
	// (the provider's options.path); empty means dir/dashboards as written.
	GrafanaPath string
}

// WriteFiles writes the state for Grafana's file provisioning under dir:
//
//	provisioning/datasources/lifeline.yaml  the ClickHouse data source
//	provisioning/dashboards/lifeline.yaml   one provider per park folder
//	dashboards/<folder uid>/<uid>.json      the dashboards
//
// Files are replaced atomically; dashboards of parks and sites no longer in
// the state are removed from dir/dashboards. It returns the paths written.
func WriteFiles(dir string, st State, o FileOptions) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	dashRoot := filepath.Join(abs, "dashboards")
	grafanaRoot := o.GrafanaPath
	if grafanaRoot == "" {
		grafanaRoot = dashRoot
	}
	var written []string
	write := func(path string, data []byte) error {
		if err := writeFileAtomic(path, data); err != nil {
			return err
		}
		written = append(written, path)
		return nil
	}

	dsFile, err := datasourceFile(st.Datasource)
	if err != nil {
		return nil, err
	}
	if err := write(filepath.Join(abs, "provisioning", "datasources", "lifeline.yaml"), dsFile); err != nil {
		return nil, err
	}

	type provider struct {
		Name                  string         `yaml:"name"`
		OrgID                 int            `yaml:"orgId"`
		Folder                string         `yaml:"folder"`
		FolderUID             string         `yaml:"folderUid"`
		Type                  string         `yaml:"type"`
		DisableDeletion       bool           `yaml:"disableDeletion"`
		AllowUIUpdates        bool           `yaml:"allowUiUpdates"`
		UpdateIntervalSeconds int            `yaml:"updateIntervalSeconds"`
		Options               map[string]any `yaml:"options"`
	}
	providers := []provider{}
	keep := map[string]bool{}
	for _, ps := range st.Parks {
		providers = append(providers, provider{
			Name: "lifeline-" + ps.FolderUID, OrgID: 1, Folder: ps.FolderTitle, FolderUID: ps.FolderUID,
			Type: "file", UpdateIntervalSeconds: 60,
			Options: map[string]any{"path": filepath.ToSlash(filepath.Join(grafanaRoot, ps.FolderUID))},
		})
		for _, d := range ps.Dashboards {
			data, err := json.MarshalIndent(d.Model, "", "  ")
			if err != nil {
				return nil, fmt.Errorf("dashboard %s: %w", d.UID, err)
			}
			path := filepath.Join(dashRoot, ps.FolderUID, d.UID+".json")
			keep[path] = true
			if err := write(path, append(data, '\n')); err != nil {
				return nil, err
			}
		}
	}
	provFile, err := yaml.Marshal(map[string]any{"apiVersion": 1, "providers": providers})
	if err != nil {
		return nil, err
	}
	header := []byte("# Lifeline dashboards, one provider per park folder. Written by lifeline-aggregator provision --dry-run.\n")
	if err := write(filepath.Join(abs, "provisioning", "dashboards", "lifeline.yaml"), append(header, provFile...)); err != nil {
		return nil, err
	}
	return written, removeStale(dashRoot, keep)
}

func datasourceFile(d Datasource) ([]byte, error) {
	host, portText, err := net.SplitHostPort(d.Addr)
	if err != nil {
		return nil, fmt.Errorf("datasource addr %q: %w", d.Addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("datasource addr %q: %w", d.Addr, err)
	}
	ds := map[string]any{
		"name": d.Name, "uid": d.UID, "type": dashboards.DatasourceType, "access": "proxy", "editable": false,
		"jsonData": map[string]any{"host": host, "port": port, "protocol": "native", "secure": d.Secure,
			"username": d.Username, "defaultDatabase": d.Database},
	}
	if d.Password != "" {
		ds["secureJsonData"] = map[string]any{"password": "${" + PasswordEnv + "}"}
	}
	out, err := yaml.Marshal(map[string]any{"apiVersion": 1, "datasources": []any{ds}})
	if err != nil {
		return nil, err
	}
	header := "# The ClickHouse data source of Lifeline's dashboards. Its user should be read-only.\n"
	if d.Password != "" {
		header += "# Grafana reads the password from $" + PasswordEnv + ".\n"
	}
	return append([]byte(header), out...), nil
}

// removeStale deletes dashboard files under root that Lifeline wrote
// earlier (folders named ll-*) and that are not in keep.
func removeStale(root string, keep map[string]bool) error {
	folders, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no park yet, and none written before
	}
	if err != nil {
		return err
	}
	for _, f := range folders {
		if !f.IsDir() || !strings.HasPrefix(f.Name(), "ll-") {
			continue
		}
		dir := filepath.Join(root, f.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		left := 0
		for _, e := range files {
			path := filepath.Join(dir, e.Name())
			if keep[path] || !strings.HasSuffix(e.Name(), ".json") || !strings.HasPrefix(e.Name(), "ll-") {
				left++
				continue
			}
			if err := os.Remove(path); err != nil {
				return err
			}
		}
		if left == 0 {
			if err := os.Remove(dir); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeFileAtomic creates path's directory and replaces path crash-safely.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, 0o644)
}
