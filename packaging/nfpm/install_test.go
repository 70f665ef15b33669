package nfpm

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pkg is one package under test and the files it owns.
type pkg struct {
	name   string // lifeline-agent
	config string // /etc/lifeline/agent.yaml
}

func (p pkg) bin() string  { return "/usr/bin/" + p.name }
func (p pkg) unit() string { return "/usr/lib/systemd/system/" + p.name + ".service" }
func (p pkg) data() string { return "/var/lib/" + p.name }

var pkgs = []pkg{
	{"lifeline-agent", "/etc/lifeline/agent.yaml"},
	{"lifeline-aggregator", "/etc/lifeline/aggregator.yaml"},
}

const (
	v1 = "0.0.0~test1"
	v2 = "0.0.0~test2" // the upgrade
)

// TestInstallUpgradeRemovePurge builds the amd64 packages twice (two
// versions), installs each .deb on this machine with dpkg, upgrades it, then
// removes and purges it, checking at each step what the README promises; the
// .rpm goes through install, upgrade and erase first, with rpm --nodeps.
// It changes the machine (packages, the lifeline user), so it runs only
// under CI or with LIFELINE_PACKAGE_TEST=1, as root on Debian.
func TestInstallUpgradeRemovePurge(t *testing.T) {
	requireInstallMachine(t)
	if _, err := exec.Command("getent", "passwd", "lifeline").Output(); err != nil {
		// The packages keep their user on purge; the test leaves the
		// machine as it found it.
		t.Cleanup(func() {
			if out, err := exec.Command("userdel", "lifeline").CombinedOutput(); err != nil {
				t.Errorf("userdel lifeline: %v\n%s", err, out)
			}
		})
	}
	start := time.Now()
	dist := t.TempDir()
	build(t, v1, filepath.Join(dist, "v1"), "deb rpm")
	build(t, v2, filepath.Join(dist, "v2"), "deb rpm")
	t.Logf("packages built in %s", time.Since(start).Round(time.Second))
	for _, p := range pkgs {
		t.Run(p.name, func(t *testing.T) {
			t.Cleanup(func() { _, _ = dpkg("--purge", p.name) })
			rpm1 := glob(t, filepath.Join(dist, "v1", p.name+"-*.x86_64.rpm"))
			checkRPM(t, p, rpm1)
			rpmInstallUpgradeErase(t, p, rpm1, glob(t, filepath.Join(dist, "v2", p.name+"-*.x86_64.rpm")))
			install(t, p, glob(t, filepath.Join(dist, "v1", p.name+"_*_amd64.deb")))
			upgrade(t, p, glob(t, filepath.Join(dist, "v2", p.name+"_*_amd64.deb")))
			removeAndPurge(t, p)
		})
	}
	t.Logf("whole test %s", time.Since(start).Round(time.Second))
}

// requireInstallMachine skips unless asked to install; when asked (or under
// CI) a missing tool is a failure, not a skip.
func requireInstallMachine(t *testing.T) {
	t.Helper()
	if os.Getenv("CI") == "" && os.Getenv("LIFELINE_PACKAGE_TEST") == "" {
		t.Skip("installs packages system-wide with dpkg; set LIFELINE_PACKAGE_TEST=1 to run it (CI always does)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the package test installs with dpkg and must run as root")
	}
	for _, tool := range []string{"make", "dpkg", "dpkg-query", "rpm", "runuser"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (apt-get install rpm for rpm): %v", tool, err)
		}
	}
	for _, p := range pkgs {
		if st, _ := dpkg("-s", p.name); strings.Contains(st, "Status: install ok installed") {
			t.Fatalf("%s is already installed on this machine; the test would replace it", p.name)
		}
	}
}

// build runs `make package` for amd64 into dir.
func build(t *testing.T, version, dir, formats string) {
	t.Helper()
	cmd := exec.Command("make", "-C", "../..", "package", "PKG_ARCHS=amd64", "PKG_FORMATS="+formats,
		"PKG_VERSION="+version, "DIST="+dir)
	// Under `make test` the parent's flags and command-line variables would
	// pass down through MAKEFLAGS; this build takes only its own.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); name != "MAKEFLAGS" && name != "MFLAGS" && name != "MAKELEVEL" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make package: %v\n%s", err, out)
	}
}

func glob(t *testing.T, pattern string) string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) != 1 {
		t.Fatalf("want one file matching %s, got %q (%v)", pattern, m, err)
	}
	return m[0]
}

// install checks a fresh install: files, user, permissions, unit, a service
// neither enabled nor started, and (agent) check's verdict on the example.
func install(t *testing.T, p pkg, deb string) {
	t.Helper()
	out, err := dpkg("--install", deb)
	if err != nil {
		t.Fatalf("dpkg --install %s: %v\n%s", deb, err, out)
	}
	if !strings.Contains(out, "not enabled and not started") {
		t.Errorf("install printed no first-run hint:\n%s", out)
	}
	if pw := run(t, "getent", "passwd", "lifeline"); !strings.HasSuffix(strings.TrimSpace(pw), ":/usr/sbin/nologin") {
		t.Errorf("lifeline user: %q, want a login-less system user", pw)
	}
	checkMode(t, p.bin(), 0o755, "root", "root")
	checkMode(t, p.unit(), 0o644, "root", "root")
	checkMode(t, p.config, 0o640, "root", "lifeline")
	checkMode(t, p.data(), 0o750|os.ModeDir, "lifeline", "lifeline")
	checkMode(t, "/etc/lifeline/tls", 0o750|os.ModeDir, "root", "lifeline")
	if conf := run(t, "dpkg-query", "-W", "-f=${Conffiles}", p.name); !strings.Contains(conf, p.config) {
		t.Errorf("%s is not a conffile: %q", p.config, conf)
	}
	verifyUnit(t, p)
	if state, _ := exec.Command("systemctl", "is-enabled", p.name).Output(); strings.TrimSpace(string(state)) != "disabled" {
		t.Errorf("systemctl is-enabled %s: %q, want disabled", p.name, state)
	}
	if pids := running(p.bin()); len(pids) > 0 {
		t.Errorf("%s was started by the install (pids %v)", p.name, pids)
	}
	if v := run(t, "runuser", "-u", "lifeline", "--", p.bin(), "--version"); !strings.Contains(v, p.name+" version") {
		t.Errorf("%s --version: %q", p.name, v)
	}
	if p.name == "lifeline-agent" {
		checkExampleRefused(t, p)
	}
}

// checkExampleRefused: check, run as the service user, names what the
// installed example leaves to fill in and fails.
func checkExampleRefused(t *testing.T, p pkg) {
	t.Helper()
	out, err := exec.Command("runuser", "-u", "lifeline", "--", p.bin(), "check", "-c", p.config).CombinedOutput()
	if err == nil {
		t.Fatalf("check accepted the installed example:\n%s", out)
	}
	for _, want := range []string{
		"not filled in for the plant yet",
		`sources[dcs].endpoint "opc.tcp://192.0.2.10:4840": 192.0.2.10 is an example address`,
		"aggregator.tls: no such file: ca_file /etc/lifeline/tls/ca.crt",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check of the installed example lacks %q:\n%s", want, out)
		}
	}
}

// upgrade installs the next version over a modified config and buffered data.
func upgrade(t *testing.T, p pkg, deb string) {
	t.Helper()
	const edit = "\n# set by the plant\n"
	appendFile(t, p.config, edit)
	kept := filepath.Join(p.data(), "buffer", "000001.vlog")
	if err := os.MkdirAll(filepath.Dir(kept), 0o750); err != nil {
		t.Fatal(err)
	}
	appendFile(t, kept, "unsent batch")
	run(t, "systemctl", "enable", p.name) // as the plant does once configured
	if out, err := dpkg("--force-confold", "--install", deb); err != nil {
		t.Fatalf("dpkg --install %s: %v\n%s", deb, err, out)
	}
	if v := run(t, "dpkg-query", "-W", "-f=${Version}", p.name); v != v2+"-1" {
		t.Errorf("after the upgrade %s is at %q, want %s-1", p.name, v, v2)
	}
	if b, err := os.ReadFile(p.config); err != nil || !strings.HasSuffix(string(b), edit) {
		t.Errorf("the upgrade lost the edited %s: %v", p.config, err)
	}
	if b, err := os.ReadFile(kept); err != nil || string(b) != "unsent batch" {
		t.Errorf("the upgrade lost %s: %q %v", kept, b, err)
	}
	checkMode(t, p.config, 0o640, "root", "lifeline")
	if state, _ := exec.Command("systemctl", "is-enabled", p.name).Output(); strings.TrimSpace(string(state)) != "enabled" {
		t.Errorf("after the upgrade systemctl is-enabled %s: %q, want enabled as before", p.name, state)
	}
}

// removeAndPurge: remove keeps config and data; purge deletes both.
func removeAndPurge(t *testing.T, p pkg) {
	t.Helper()
	if out, err := dpkg("--remove", p.name); err != nil {
		t.Fatalf("dpkg --remove: %v\n%s", err, out)
	}
	for _, gone := range []string{p.bin(), p.unit(), "/etc/systemd/system/multi-user.target.wants/" + p.name + ".service"} {
		if _, err := os.Lstat(gone); !os.IsNotExist(err) {
			t.Errorf("remove left %s (%v)", gone, err)
		}
	}
	for _, kept := range []string{p.config, filepath.Join(p.data(), "buffer", "000001.vlog")} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("remove must keep %s: %v", kept, err)
		}
	}
	if out, err := dpkg("--purge", p.name); err != nil {
		t.Fatalf("dpkg --purge: %v\n%s", err, out)
	}
	for _, gone := range []string{p.config, p.data()} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("purge left %s (%v)", gone, err)
		}
	}
	if st, _ := dpkg("-s", p.name); strings.Contains(st, "Status:") {
		t.Errorf("dpkg still knows %s after purge:\n%s", p.name, st)
	}
}

// verifyUnit runs systemd-analyze verify on the installed unit. systemd
// before 254 does not know the backoff keys; that warning is expected.
func verifyUnit(t *testing.T, p pkg) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Logf("systemd-analyze not installed: unit not verified")
		return
	}
	out, err := exec.Command("systemd-analyze", "verify", p.unit()).CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" || strings.Contains(line, "Unknown key 'RestartSteps'") || strings.Contains(line, "Unknown key 'RestartMaxDelaySec'") {
			continue
		}
		t.Errorf("systemd-analyze verify %s: %s", p.unit(), line)
	}
	if err != nil {
		t.Errorf("systemd-analyze verify %s: %v", p.unit(), err)
	}
}

func checkMode(t *testing.T, path string, mode os.FileMode, user, group string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	if st.Mode() != mode {
		t.Errorf("%s: mode %s, want %s", path, st.Mode(), mode)
	}
	sys := st.Sys().(*syscall.Stat_t)
	owner := run(t, "getent", "passwd", fmt.Sprint(sys.Uid))
	grp := run(t, "getent", "group", fmt.Sprint(sys.Gid))
	if !strings.HasPrefix(owner, user+":") || !strings.HasPrefix(grp, group+":") {
		t.Errorf("%s: owned by %s:%s, want %s:%s", path, field0(owner), field0(grp), user, group)
	}
}

// running lists the pids whose executable is bin.
func running(bin string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == bin {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// dpkg runs dpkg without a terminal: a conffile question fails rather than waits.
func dpkg(args ...string) (string, error) {
	cmd := exec.Command("dpkg", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
	if err == nil {
		_, err = f.WriteString(text)
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		t.Fatal(err)
	}
}

func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

func field0(entry string) string { name, _, _ := strings.Cut(entry, ":"); return name }
