package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// rollups check exits non-zero on drift and names the bucket; repair
// rebuilds it and a second check is clean.
func TestRollupsCheckAndRepair(t *testing.T) {
	addr := chtest.Addr(t)
	db := chtest.Database(t, addr)
	t.Setenv(config.EnvClickHouseAddr, addr)
	t.Setenv(config.EnvClickHouseDatabase, db)

	conf := filepath.Join(t.TempDir(), "aggregator.yaml")
	if err := os.WriteFile(conf, []byte("server:\n  tls: {insecure: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	execute := func(args ...string) (string, error) { return execute(append(args, "--config", conf)...) }

	ctx := context.Background()
	cfg := store.DefaultConfig()
	cfg.Addr, cfg.Database = addr, db
	st := store.New(cfg, slog.New(slog.DiscardHandler))
	if err := st.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Now().UTC().Add(-5 * time.Hour).Truncate(time.Hour)
	b := &store.Batch{SiteID: "RC1", Seq: 1}
	for i := range 30 {
		b.Samples = append(b.Samples, &lifelinev1.Sample{PointId: "储罐液位", SourceTimeNs: at.Add(time.Duration(i) * time.Second).UnixNano(),
			Value: &lifelinev1.Sample_Number{Number: 1}})
	}
	if err := st.Insert(ctx, []*store.Batch{b}); err != nil {
		t.Fatal(err)
	}
	out, err := execute("rollups", "check")
	if err != nil || !strings.Contains(out, "0 rollup buckets disagree") {
		t.Fatalf("check on clean data: %q %v", out, err)
	}
	if err := chtest.Conn(t, st.Config().Addr, st.Config().Database).Exec(ctx, "INSERT INTO samples SELECT * FROM samples WHERE site_id = 'RC1'"); err != nil {
		t.Fatal(err)
	}
	out, err = execute("rollups", "check", "--site", "RC1")
	if err == nil || !strings.Contains(out, "samples_1m\tRC1\t储罐液位\t"+at.Format(time.DateTime)+"\trollup 60\traw 30") {
		t.Fatalf("check with a doubled batch: %q %v", out, err)
	}
	out, err = execute("rollups", "repair", "--from", at.Format(time.DateOnly), "--to", time.Now().UTC().Format(time.RFC3339))
	if err != nil || !strings.Contains(out, "rebuilt 2 buckets; 0 still disagree") {
		t.Fatalf("repair: %q %v", out, err)
	}
	if out, err := execute("rollups", "check"); err != nil {
		t.Fatalf("check after repair: %q %v", out, err)
	}
}
