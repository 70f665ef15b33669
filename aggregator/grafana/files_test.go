package grafana

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/lifeline-telemetry/lifeline/dashboards"
)

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig("")
	st, err := Desired(cfg, twoParks)
	if err != nil {
		t.Fatal(err)
	}
	written, err := WriteFiles(dir, st, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 2+13 {
		t.Errorf("%d files written, want 15", len(written))
	}

	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			UID, Type      string
			JSONData       map[string]any    `yaml:"jsonData"`
			SecureJSONData map[string]string `yaml:"secureJsonData"`
		}
	}
	readYAML(t, filepath.Join(dir, "provisioning/datasources/lifeline.yaml"), &ds)
	d := ds.Datasources[0]
	if ds.APIVersion != 1 || d.UID != "lifeline-clickhouse" || d.Type != dashboards.DatasourceType ||
		d.JSONData["protocol"] != "native" || d.JSONData["port"] != 9000 || d.JSONData["host"] != "10.0.0.5" {
		t.Errorf("datasource file: %+v", ds)
	}
	if d.SecureJSONData["password"] != "${"+PasswordEnv+"}" {
		t.Errorf("password must be a reference to the environment, got %q", d.SecureJSONData["password"])
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "provisioning/datasources/lifeline.yaml"))
	if strings.Contains(string(raw), "ro-secret") {
		t.Error("the password was written to disk")
	}

	var prov struct {
		Providers []struct {
			Folder    string
			FolderUID string `yaml:"folderUid"`
			Type      string
			Options   struct{ Path string }
		}
	}
	readYAML(t, filepath.Join(dir, "provisioning/dashboards/lifeline.yaml"), &prov)
	if len(prov.Providers) != 2 {
		t.Fatalf("providers: %+v", prov)
	}
	for _, p := range prov.Providers {
		files, err := os.ReadDir(p.Options.Path)
		if err != nil || p.Type != "file" || p.FolderUID != dashboards.FolderUID(p.Folder) {
			t.Fatalf("provider %+v: %v", p, err)
		}
		for _, f := range files {
			var m map[string]any
			data, _ := os.ReadFile(filepath.Join(p.Options.Path, f.Name()))
			if err := json.Unmarshal(data, &m); err != nil || m["uid"].(string)+".json" != f.Name() {
				t.Errorf("%s: %v", f.Name(), err)
			}
		}
	}

	// A site removed: its file goes on the next write; a file of someone
	// else's in the directory stays.
	other := filepath.Join(dir, "dashboards", dashboards.FolderUID("江北化工园区"), "notes.json")
	if err := os.WriteFile(other, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, _ = Desired(cfg, []Site{twoParks[0]})
	if _, err := WriteFiles(dir, st, FileOptions{}); err != nil {
		t.Fatal(err)
	}
	ent02 := filepath.Join(dir, "dashboards", dashboards.FolderUID("江北化工园区"),
		dashboards.UID("江北化工园区", dashboards.KindEnterprise, "ENT02")+".json")
	if _, err := os.Stat(ent02); !os.IsNotExist(err) {
		t.Errorf("ENT02's dashboard file still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "dashboards", dashboards.FolderUID("上海化学工业区"))); !os.IsNotExist(err) {
		t.Errorf("removed park's directory still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("someone else's file removed: %v", err)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// With no park yet there is no dashboards directory to clean up.
func TestWriteFilesWithoutParks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	st, err := Desired(testConfig(""), nil)
	if err != nil {
		t.Fatal(err)
	}
	written, err := WriteFiles(dir, st, FileOptions{})
	if err != nil || len(written) != 2 {
		t.Fatalf("wrote %v: %v", written, err)
	}
}
