package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDashboardSQLExpandsPercentEncodedVariables(t *testing.T) {
	repo := t.TempDir()
	dir := filepath.Join(repo, "dashboards", "sql")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src := "SELECT 1 FROM sites WHERE park = decodeURLComponent('${park:percentencode}') AND $__timeFilter(ts)"
	if err := os.WriteFile(filepath.Join(dir, "q.sql"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	from := time.Unix(1000, 0)
	sql, err := dashboardSQL(repo, "q.sql", map[string]string{"park": "江北 x'"}, from, from.Add(time.Hour), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if want := "decodeURLComponent('%E6%B1%9F%E5%8C%97%20x%27')"; !strings.Contains(sql, want) {
		t.Errorf("got %s, want it to contain %s", sql, want)
	}
}

func TestOverviewQueryExpands(t *testing.T) {
	from := time.Unix(1000, 0)
	if _, err := dashboardSQL("../..", "overview_sites.sql", map[string]string{"park": queryPark}, from, from.Add(time.Hour), time.Minute); err != nil {
		t.Fatal(err)
	}
}
