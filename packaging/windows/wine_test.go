package windows

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
	"github.com/lifeline-telemetry/lifeline/agent/winservice"
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
	server := filepath.Join(filepath.Dir(bin), "wineserver")
	if _, err := os.Stat(server); err != nil {
		server = "wineserver"
	}
	wineserver := func(arg string) error {
		cmd := exec.Command(server, arg)
		cmd.Env = w.env()
		return cmd.Run()
	}
	t.Cleanup(func() { wineserver("-k") })
	start := time.Now()
	if out, err := w.run(t, "wineboot", "--init"); err != nil {
		t.Fatalf("wineboot: %v\n%s", err, out)
	}
	t.Logf("wine prefix ready in %s", time.Since(start).Round(time.Millisecond))
	// Go programs need bcryptprimitives.dll, which Wine 8 lacks.
	if err := os.WriteFile(w.path(`C:\windows\system32\bcryptprimitives.dll`), bcryptPrimitivesStub(), 0o644); err != nil {
		t.Fatal(err)
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
	// Output goes to a file, not a pipe: programs Wine starts beside this
	// one (services, winedevice) inherit the handles and outlive it.
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = w.env(), f, f
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return string(out), err
}

// path is where a C: path of the prefix lies on this machine.
func (w *wine) path(win string) string {
	rel := strings.ReplaceAll(strings.TrimPrefix(win, `C:\`), `\`, "/")
	return filepath.Join(w.prefix, "drive_c", rel)
}

// winPath is a Linux path as Wine's Z: drive shows it to a Windows program.
func winPath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }

// One Wine prefix (its first start takes half a minute) and one plant
// simulator for: the exe the MSI ships, run from the MSI's files; then the
// MSI installed, its service run, upgraded and removed by Wine's msiexec.
func TestUnderWine(t *testing.T) {
	w := newWine(t)
	sim := plantsim.New(plantsim.Options{Addr: "127.0.0.1:0", ExcursionsPerHour: -1})
	if err := sim.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sim.Shutdown(ctx)
	})
	simCfg, err := sim.AgentConfig("127.0.0.1:7400", `C:\ProgramData\Lifeline\buffer`, "WIN01").Marshal()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("binary", func(t *testing.T) { testBinary(t, w, simCfg) })
	t.Run("msi", func(t *testing.T) { testMSILifecycle(t, w, simCfg) })
}

// --version, and check: an invalid config refused, every point of a live
// OPC UA server (the simulator, on loopback) resolved.
func testBinary(t *testing.T, w *wine, simCfg []byte) {
	exe := filepath.Join(extract(t, buildMSI(t, "v0.9.8")), "lifeline-agent.exe")
	out, err := w.run(t, exe, "--version")
	if err != nil || !strings.Contains(out, "lifeline-agent version v0.9.8") || !strings.Contains(out, "windows/amd64") {
		t.Fatalf("--version under wine: %v\n%s", err, out)
	}

	bad, _ := filepath.Abs("../../testdata/agent/bad-nodes.yaml")
	if out, err := w.run(t, exe, "check", "--config", winPath(bad)); err == nil || !strings.Contains(out, "uses a namespace index") {
		t.Errorf("check of an invalid config under wine: %v\n%s", err, out)
	}

	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, simCfg, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = w.run(t, exe, "check", "--config", winPath(path))
	if err != nil || !strings.Contains(out, "check: all points ok") || !strings.Contains(out, "T101.LT") {
		t.Fatalf("check under wine: %v\n%s", err, out)
	}
	testRunBuffers(t, w, exe, path)
}

// run subscribes, writes batches to its Badger buffer on the Windows side
// while no aggregator answers, and stops cleanly on Ctrl-C (SIGINT, which
// Wine hands to the program as a console control event).
func testRunBuffers(t *testing.T, w *wine, exe, cfgPath string) {
	var out syncBuffer
	cmd := exec.Command(w.bin, exe, "run", "--config", winPath(cfgPath))
	cmd.Env, cmd.Stdout, cmd.Stderr = w.env(), &out, &out
	cmd.WaitDelay = 10 * time.Second // a Wine helper holding the pipe must not hang Wait
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(2 * time.Minute)
	for !strings.Contains(out.String(), "OPC UA subscription running") {
		select {
		case err := <-done:
			t.Fatalf("run exited early: %v\n%s", err, out.String())
		case <-deadline:
			cmd.Process.Kill()
			<-done
			t.Fatalf("no subscription within 2 min:\n%s", out.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	time.Sleep(3 * time.Second) // several batch_wait periods of samples
	cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-done:
		if err != nil || !regexp.MustCompile(`msg="agent stopped" buffered_batches=[1-9]`).MatchString(out.String()) {
			t.Errorf("run under wine: %v; want a clean stop with batches buffered:\n%s", err, out.String())
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		t.Errorf("run did not stop on Ctrl-C:\n%s", out.String())
	}
}

// Install registers the service and its event log source; the service,
// given the simulator's config, runs and logs under ProgramData; an upgrade
// stops it cleanly, replaces the exe, keeps the plant's config and starts
// it again; uninstall removes the exe, the service and the event source and
// keeps the config.
func testMSILifecycle(t *testing.T, w *wine, simCfg []byte) {
	v1, v2 := buildMSI(t, "v0.1.0"), buildMSI(t, "v0.1.1")
	exe, cfg := `C:\Program Files\Lifeline\lifeline-agent.exe`, `C:\ProgramData\Lifeline\agent.yaml`
	svcKey := `HKLM\System\CurrentControlSet\Services\` + winservice.Name
	eventKey := `HKLM\System\CurrentControlSet\Services\EventLog\Application\` + winservice.Name
	msiexec := func(args ...string) {
		t.Helper()
		if out, err := w.run(t, append([]string{"msiexec"}, append(args, "/qn")...)...); err != nil {
			t.Fatalf("msiexec %v: %v\n%s", args, err, out)
		}
	}

	msiexec("/i", winPath(v1))
	out, err := w.run(t, "reg", "query", svcKey)
	if err != nil || !strings.Contains(out, `ImagePath    REG_SZ    `+exe+` run --service --config "`+cfg+`"`) || !strings.Contains(out, "Start    REG_DWORD    0x2") {
		t.Fatalf("service after install: %v\n%s", err, out)
	}
	if out, err := w.run(t, "reg", "query", eventKey); err != nil {
		t.Errorf("no event log source after install (service configure did not run): %v\n%s", err, out)
	}
	if err := os.WriteFile(w.path(cfg), simCfg, 0o644); err != nil { // the plant's edit
		t.Fatal(err)
	}
	// Wine "boots" the prefix again whenever its wineserver has exited
	// between two programs, and a boot starts auto-start services: the
	// service may already run (or have failed on the placeholder config).
	w.run(t, exe, "service", "stop")
	if out, err := w.run(t, exe, "service", "start"); err != nil && !strings.Contains(out, "already running") {
		t.Fatalf("service start: %v\n%s", err, out)
	}
	serviceLog := w.path(`C:\ProgramData\Lifeline\logs\agent.log`)
	waitLog(t, serviceLog, "OPC UA subscription running", 1)

	msiexec("/i", winPath(v2))
	waitLog(t, serviceLog, `msg="agent stopped"`, 1) // stopped by the upgrade, not killed
	waitLog(t, serviceLog, "OPC UA subscription running", 2)
	if out, err := w.run(t, exe, "--version"); err != nil || !strings.Contains(out, "version v0.1.1") {
		t.Errorf("after upgrade: %v\n%s", err, out)
	}
	if got := readFile(t, w.path(cfg)); string(got) != string(simCfg) {
		t.Errorf("upgrade changed the plant's config")
	}
	if out, err := w.run(t, exe, "service", "stop"); err != nil {
		t.Errorf("service stop: %v\n%s", err, out)
	}
	waitLog(t, serviceLog, `msg="agent stopped"`, 2)

	msiexec("/x", winPath(v2))
	if _, err := os.Stat(w.path(exe)); !os.IsNotExist(err) {
		t.Errorf("exe still there after uninstall (%v)", err)
	}
	for _, key := range []string{svcKey, eventKey} {
		if out, err := w.run(t, "reg", "query", key); err == nil {
			t.Errorf("%s still there after uninstall:\n%s", key, out)
		}
	}
	if got := readFile(t, w.path(cfg)); string(got) != string(simCfg) {
		t.Errorf("uninstall removed or changed the config")
	}
}

// waitLog waits up to two minutes for the service's log to hold line n times.
func waitLog(t *testing.T, path, line string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		data, _ := os.ReadFile(path)
		if strings.Count(string(data), line) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("service log %s: %q not seen %d times in 2 min:\n%s", path, line, n, data)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// syncBuffer is written by exec's copying goroutine while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
