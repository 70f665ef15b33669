package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// report renders a seeded day of park RP as HTML and as PDF; the day is
// the park's (UTC+8 by default), so an alarm at 23:30 UTC the day before
// belongs to it and one at 16:30 UTC does not.
func TestReportCommand(t *testing.T) {
	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	t.Setenv(config.EnvClickHouseAddr, addr)
	t.Setenv(config.EnvClickHouseDatabase, db)
	ctx := context.Background()
	cfg := store.DefaultConfig()
	cfg.Addr, cfg.Database = addr, db
	st := store.New(cfg, slog.New(slog.DiscardHandler))
	if err := st.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SaveCatalog(ctx, "RS1", "RP", "test", []*lifelinev1.Point{{Id: "储罐液位", Kind: "level"}}); err != nil {
		t.Fatal(err)
	}
	var alarms []store.AlarmEvent
	for i, at := range []string{"2026-03-01T23:30:00Z", "2026-03-02T01:00:00Z", "2026-03-02T01:00:20Z", "2026-03-02T16:30:00Z"} {
		ts, _ := time.Parse(time.RFC3339, at)
		alarms = append(alarms, store.AlarmEvent{SiteID: "RS1", PointID: "储罐液位", Condition: "H", Priority: 2,
			RaisedNs: ts.UnixNano() + int64(i), ClearedNs: ts.Add(time.Second).UnixNano()})
	}
	if err := st.SaveAlarmEvents(ctx, alarms); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	html := filepath.Join(dir, "r.html")
	if out, err := execute("report", "--park", "RP", "--date", "2026-03-02", "--out", html); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), `<td>RS1 </td><td class="n">3</td>`) {
		t.Errorf("the summary does not show 3 alarms for RS1:\n%.2000s", page)
	}
	if out, err := execute("report", "--park", "nowhere", "--date", "2026-03-02"); err == nil || !strings.Contains(out, "park nowhere has no sites") {
		t.Errorf("a park without sites: %v %q", err, out)
	}
	if _, err := exec.LookPath("chromium"); err != nil && os.Getenv("CI") == "" {
		t.Skip("chromium not found (apt-get install chromium)")
	}
	pdf := filepath.Join(dir, "r.pdf")
	if out, err := execute("report", "--park", "RP", "--site", "RS1", "--date", "2026-03-02", "--format", "pdf", "--out", pdf); err != nil {
		t.Fatalf("report --format pdf: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(pdf); err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %v", err)
	}
}
