package main

import (
	"context"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// forwarder run reports to the configured target until interrupted.
func TestForwarderRun(t *testing.T) {
	addr := chtest.Addr(t)
	t.Setenv(config.EnvClickHouseAddr, addr)
	t.Setenv(config.EnvClickHouseDatabase, chtest.Database(t, addr))
	var beats atomic.Int32
	platform := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/heartbeat/91320500MA1TEST01X" {
			beats.Add(1)
		}
	}))
	defer platform.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: platform.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "aggregator.yaml")
	if err := os.WriteFile(conf, []byte(`forward:
  targets:
    - name: province
      transport: https
      sites: [plant-a]
      tls: {ca_file: `+ca+`}
      templates: ../../../packaging/config/forward
      heartbeat_every: 200ms
      dest:
        heartbeat: `+platform.URL+`/heartbeat/{{.Enterprise.Code}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	codes := filepath.Join(dir, "codes.csv")
	if err := os.WriteFile(codes, []byte("target,kind,local_id,code\nprovince,enterprise,plant-a,91320500MA1TEST01X\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := execute("forwarder", "codes", "import", codes, "--config", conf); err != nil {
		t.Fatalf("codes import: %q %v", out, err)
	}
	root := newRoot()
	root.SetArgs([]string{"forwarder", "run", "--config", conf, "--metrics-listen", "127.0.0.1:0"})
	root.SetOut(io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for beats.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("forwarder run: %v", err)
	}
	if beats.Load() < 2 {
		t.Fatal("no heartbeats reached the platform")
	}
}
