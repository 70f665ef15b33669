package nfpm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// checkRPM reads the .rpm's file list, its config files and its scripts.
func checkRPM(t *testing.T, p pkg, file string) {
	t.Helper()
	files := run(t, "rpm", "-qlp", file)
	for _, want := range []string{p.bin(), p.unit(), p.config} {
		if !hasLine(files, want) {
			t.Errorf("rpm -qlp %s lacks %s:\n%s", filepath.Base(file), want, files)
		}
	}
	if conf := run(t, "rpm", "-qcp", file); strings.TrimSpace(conf) != p.config {
		t.Errorf("rpm config files: %q, want only %s", conf, p.config)
	}
	if scripts := run(t, "rpm", "-qp", "--scripts", file); !strings.Contains(scripts, "useradd --system") ||
		!strings.Contains(scripts, "try-restart "+`"$PKG.service"`) {
		t.Errorf("rpm scripts lack the user creation or the restart on upgrade:\n%s", scripts)
	}
}

// rpmInstallUpgradeErase runs the .rpm's scripts for real with Debian's rpm
// (--nodeps: its database knows none of Debian's packages): install,
// upgrade over an edited config and buffered data, erase. rpm has no purge,
// so the test deletes what erase keeps.
func rpmInstallUpgradeErase(t *testing.T, p pkg, v1File, v2File string) {
	t.Helper()
	clean := func() {
		_ = exec.Command("rpm", "-e", "--nodeps", p.name).Run()
		_ = os.RemoveAll(p.data())
		_ = os.Remove(p.config + ".rpmsave")
	}
	t.Cleanup(clean)
	defer clean() // the .deb is installed next, on a clean machine
	if out := run(t, "rpm", "-i", "--nodeps", v1File); !strings.Contains(out, "not enabled and not started") {
		t.Errorf("rpm -i printed no first-run hint:\n%s", out)
	}
	checkMode(t, p.bin(), 0o755, "root", "root")
	checkMode(t, p.config, 0o640, "root", "lifeline")
	checkMode(t, p.data(), 0o750|os.ModeDir, "lifeline", "lifeline")
	const edit = "\n# set by the plant (rpm)\n"
	appendFile(t, p.config, edit)
	kept := filepath.Join(p.data(), "buffer", "000001.vlog")
	if err := os.MkdirAll(filepath.Dir(kept), 0o750); err != nil {
		t.Fatal(err)
	}
	appendFile(t, kept, "unsent batch")
	run(t, "rpm", "-U", "--nodeps", v2File)
	if v := run(t, "rpm", "-q", "--qf", "%{VERSION}", p.name); v != v2 {
		t.Errorf("after rpm -U %s is at %q, want %s", p.name, v, v2)
	}
	if b, err := os.ReadFile(p.config); err != nil || !strings.HasSuffix(string(b), edit) {
		t.Errorf("rpm -U lost the edited %s: %v", p.config, err)
	}
	run(t, "rpm", "-e", "--nodeps", p.name)
	if _, err := os.Stat(p.bin()); !os.IsNotExist(err) {
		t.Errorf("rpm -e left %s (%v)", p.bin(), err)
	}
	for _, f := range []string{kept, p.config + ".rpmsave"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("rpm -e must keep %s: %v", f, err)
		}
	}
}
