package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

// A reload applies log.level, names the sections that need a restart,
// and keeps everything on an invalid file.
func TestReloaderAppliesLogLevelOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aggregator.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const base = "server: {listen: 127.0.0.1:7400, tls: {insecure: true}}\nclickhouse: {addr: 127.0.0.1:9000, database: lifeline}\n"
	write(base + "log: {level: info}\n")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	logger, level := obs.NewLevelLogger(cfg.Log, &out)
	r := &reloader{path: path, current: cfg, level: level, logger: logger}

	write(base + "log: {level: debug}\n")
	r.reload(context.Background())
	if level.Level() != slog.LevelDebug || !strings.Contains(out.String(), "configuration reloaded") {
		t.Fatalf("level %v after reloading log.level debug; log:\n%s", level.Level(), out.String())
	}

	out.Reset()
	write(strings.Replace(base, "database: lifeline", "database: other", 1) + "log: {level: warn}\n")
	r.reload(context.Background())
	if level.Level() != slog.LevelWarn || !strings.Contains(out.String(), "sections=clickhouse") {
		t.Fatalf("level %v; log:\n%s", level.Level(), out.String())
	}

	out.Reset()
	write(base + "log: {level: loud}\n")
	r.reload(context.Background())
	if level.Level() != slog.LevelWarn || !strings.Contains(out.String(), "configuration NOT reloaded") || !strings.Contains(out.String(), "log.level") {
		t.Fatalf("level %v after an invalid file; log:\n%s", level.Level(), out.String())
	}
}
