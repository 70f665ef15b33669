package windows

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
)

// wine is a Wine prefix of the test's own, torn down with it.
type wine struct {
	bin    string
	prefix string
}

func newWine(t *testing.T) *wine {
	t.Helper()
	// Debian's wine64 package puts the loader outside PATH.
	bin := need(t, "wine64", "/usr/lib/wine/wine64")
	w := &wine{bin: bin, prefix: filepath.Join(t.TempDir(), "prefix")}
	t.Cleanup(func() {
		server := filepath.Join(filepath.Dir(bin), "wineserver")
		if _, err := os.Stat(server); err != nil {
			server = "wineserver"
		}
		cmd := exec.Command(server, "-k")
		cmd.Env = w.env()
		cmd.Run()
	})
	start := time.Now()
	if out, err := w.run(t, "wineboot", "--init"); err != nil {
		t.Fatalf("wineboot: %v\n%s", err, out)
	}
	t.Logf("wine prefix ready in %s", time.Since(start).Round(time.Millisecond))
	// Go programs need bcryptprimitives.dll, which Wine 8 lacks.
	sys32 := filepath.Join(w.prefix, "drive_c", "windows", "system32")
	if _, err := os.Stat(filepath.Join(sys32, "bcryptprimitives.dll")); os.IsNotExist(err) {
		if err := os.WriteFile(filepath.Join(sys32, "bcryptprimitives.dll"), bcryptPrimitivesStub(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *wine) env() []string {
	return append(os.Environ(), "WINEPREFIX="+w.prefix, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=")
}

func (w *wine) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Env = w.env()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// winPath is a Linux path as Wine's Z: drive shows it to a Windows program.
func winPath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }

// The exe the MSI ships runs under Wine: --version, and check resolving
// every point of a live OPC UA server (the simulator, on loopback).
func TestWindowsBinaryUnderWine(t *testing.T) {
	w := newWine(t)
	exe := filepath.Join(extract(t, buildMSI(t, "v0.9.8")), "lifeline-agent.exe")

	out, err := w.run(t, exe, "--version")
	if err != nil || !strings.Contains(out, "lifeline-agent version v0.9.8") || !strings.Contains(out, "windows/amd64") {
		t.Fatalf("--version under wine: %v\n%s", err, out)
	}

	bad, _ := filepath.Abs("../../testdata/agent/bad-nodes.yaml")
	if out, err := w.run(t, exe, "check", "--config", winPath(bad)); err == nil || !strings.Contains(out, "uses a namespace index") {
		t.Errorf("check of an invalid config under wine: %v\n%s", err, out)
	}

	sim := plantsim.New(plantsim.Options{Addr: "127.0.0.1:0", ExcursionsPerHour: -1})
	if err := sim.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sim.Shutdown(ctx)
	})
	cfg := sim.AgentConfig("127.0.0.1:7400", `C:\ProgramData\Lifeline\buffer`, "WIN01")
	data, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = w.run(t, exe, "check", "--config", winPath(path))
	if err != nil || !strings.Contains(out, "check: all points ok") || !strings.Contains(out, "T101.LT") {
		t.Fatalf("check under wine against %s: %v\n%s", sim.Endpoint(), err, out)
	}
}
