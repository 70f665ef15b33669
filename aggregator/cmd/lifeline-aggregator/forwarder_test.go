package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// codes import reads a GBK file as spreadsheets save it, keeping the
// Chinese names; check then lists the point left without a code and exits
// non-zero, and passes once it has one.
func TestForwarderCodesAndCheck(t *testing.T) {
	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	t.Setenv(config.EnvClickHouseAddr, addr)
	t.Setenv(config.EnvClickHouseDatabase, db)
	dir := t.TempDir()
	conf := filepath.Join(dir, "aggregator.yaml")
	if err := os.WriteFile(conf, []byte(`forward:
  targets:
    - name: province
      transport: https
      templates: ../../../packaging/config/forward
      dest:
        realtime: https://platform.example/realtime/{{.Enterprise.Code}}
        alarm: https://platform.example/alarm/{{.Enterprise.Code}}
        base: https://platform.example/base/{{.Enterprise.Code}}
        heartbeat: https://platform.example/heartbeat/{{.Enterprise.Code}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := store.DefaultConfig()
	cfg.Addr, cfg.Database = addr, db
	st := store.New(cfg, slog.New(slog.DiscardHandler))
	if err := st.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SaveCatalog(context.Background(), "plant-a", "park-1", "test", []*lifelinev1.Point{
		{Id: "T101.LT", Name: "甲醇储罐液位", Unit: "m", NodeId: "nsu=urn:x;s=a", Endpoint: "opc.tcp://127.0.0.1:4840"},
		{Id: "T102.LT", Name: "乙醇储罐液位", Unit: "m", NodeId: "nsu=urn:x;s=b", Endpoint: "opc.tcp://127.0.0.1:4840"},
	}); err != nil {
		t.Fatal(err)
	}

	csv := "target,kind,local_id,code,name\n" +
		"province,enterprise,plant-a,91320500MA1TEST01X,示例化工有限公司\n" +
		"province,point,plant-a/T101.LT,3205LT0001,甲醇储罐液位\n"
	gbk, err := simplifiedchinese.GBK.NewEncoder().String(csv)
	if err != nil {
		t.Fatal(err)
	}
	codes := filepath.Join(dir, "codes.csv")
	if err := os.WriteFile(codes, []byte(gbk), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := execute("forwarder", "codes", "import", codes, "--config", conf)
	if err != nil || !strings.Contains(out, "2 codes imported") {
		t.Fatalf("codes import: %q %v", out, err)
	}
	got, err := st.ForwardCodes(context.Background(), "province")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, c := range got {
		names[c.LocalID] = c.Name
	}
	if names["plant-a"] != "示例化工有限公司" || names["plant-a/T101.LT"] != "甲醇储罐液位" {
		t.Fatalf("names after a GBK import: %v", names)
	}

	out, err = execute("forwarder", "check", "--config", conf)
	if err == nil || !strings.Contains(out, "unmapped point (no point code): plant-a/T102.LT") || strings.Contains(out, "plant-a/T101.LT") {
		t.Fatalf("check with T102.LT unmapped: %q %v", out, err)
	}
	if strings.Contains(out, "template:") {
		t.Fatalf("shipped templates fail: %q", out)
	}

	more := filepath.Join(dir, "more.csv")
	if err := os.WriteFile(more, []byte("target,kind,local_id,code\nprovince,point,plant-a/T102.LT,3205LT0002\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := execute("forwarder", "codes", "import", more, "--config", conf); err != nil {
		t.Fatalf("codes import: %q %v", out, err)
	}
	out, err = execute("forwarder", "check", "--config", conf)
	if err != nil || !strings.Contains(out, "target province: 1 sites, 2 points reported") || !strings.Contains(out, "not started yet") {
		t.Fatalf("check with every code: %q %v", out, err)
	}
}
