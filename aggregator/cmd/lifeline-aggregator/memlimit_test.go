package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
)

func TestMemoryLimitIsApplied(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	noEnv := func(string) string { return "" }
	cases := []struct {
		limit  config.MemoryLimit
		cgroup int64
		want   int64
	}{
		{"auto", 0, config.DefaultMemoryLimit},
		{"auto", 1 << 30, 768 << 20},
		{"256MiB", 1 << 30, 256 << 20},
		{"off", 1 << 30, 0},
	}
	for _, c := range cases {
		var log bytes.Buffer
		got := applyMemoryLimit(c.limit, noEnv, c.cgroup, slog.New(slog.NewTextHandler(&log, nil)))
		in := debug.SetMemoryLimit(-1)
		if c.want == 0 && in != noLimit || c.want != 0 && in != c.want || got != c.want {
			t.Errorf("%s with cgroup %d: returned %d, runtime has %d, want %d", c.limit, c.cgroup, got, in, c.want)
		}
		if strings.Count(log.String(), "memory limit") != 1 {
			t.Errorf("%s: want one log line, got %q", c.limit, log.String())
		}
	}
}

func TestMemoryLimitEnvironmentWins(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	debug.SetMemoryLimit(300 << 20) // what the runtime read from GOMEMLIMIT=300MiB
	env := func(k string) string {
		if k == "GOMEMLIMIT" {
			return "300MiB"
		}
		return ""
	}
	var log bytes.Buffer
	got := applyMemoryLimit("128MiB", env, 0, slog.New(slog.NewTextHandler(&log, nil)))
	if got != 300<<20 || debug.SetMemoryLimit(-1) != 300<<20 {
		t.Fatalf("GOMEMLIMIT overridden: got %d", got)
	}
	if !strings.Contains(log.String(), "from=GOMEMLIMIT") {
		t.Fatalf("log does not say the environment set it: %q", log.String())
	}
}

func TestCgroupMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	v2, v2max, v1 := write("memory.max", "1073741824\n"), write("max", "max\n"), write("v1", "9223372036854771712\n")
	missing := filepath.Join(dir, "missing")
	for _, c := range []struct {
		files []string
		want  int64
	}{{[]string{v2, v1}, 1 << 30}, {[]string{missing, v2}, 1 << 30}, {[]string{v2max}, 0}, {[]string{v1}, 0}, {[]string{missing}, 0}} {
		if got := cgroupMemoryLimit(c.files...); got != c.want {
			t.Errorf("%v: got %d, want %d", c.files, got, c.want)
		}
	}
}
