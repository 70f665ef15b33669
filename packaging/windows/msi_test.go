package windows

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/winservice"
)

// need finds a tool on PATH (or at one of the other places given); without
// it the test is skipped, or fails under CI, where .ci/run installs it.
func need(t *testing.T, tool string, elsewhere ...string) string {
	t.Helper()
	if p, err := exec.LookPath(tool); err == nil {
		return p
	}
	for _, p := range elsewhere {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not installed (CI is set; .ci/run installs it)", tool)
	}
	t.Skipf("%s not installed", tool)
	return ""
}

// buildMSI runs build-msi.sh, as make msi does, into a temp dir.
func buildMSI(t *testing.T, version string, env ...string) string {
	t.Helper()
	need(t, "wixl")
	need(t, "msibuild")
	out := filepath.Join(t.TempDir(), "lifeline-agent-"+version+"-amd64.msi")
	cmd := exec.Command("bash", "build-msi.sh", version, out)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build-msi.sh: %v\n%s", err, b)
	}
	return out
}

// table reads one table of the MSI with msiinfo export: a row per line,
// columns by name.
func table(t *testing.T, msi, name string) []map[string]string {
	t.Helper()
	out, err := exec.Command(need(t, "msiinfo"), "export", msi, name).Output()
	if err != nil {
		t.Fatalf("msiinfo export %s: %v", name, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	var cols []string
	var rows []map[string]string
	for i := 0; sc.Scan(); i++ {
		f := strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t")
		switch {
		case i == 0:
			cols = f
		case i >= 3: // the second and third lines are column types and the key
			row := map[string]string{}
			for j, c := range cols {
				if j < len(f) {
					row[c] = f[j]
				}
			}
			rows = append(rows, row)
		}
	}
	return rows
}

func find(rows []map[string]string, col, val string) map[string]string {
	for _, r := range rows {
		if r[col] == val {
			return r
		}
	}
	return nil
}

// extract unpacks the MSI's files with msiextract; both land in Lifeline/
// (ProgramFiles\Lifeline and ProgramData\Lifeline).
func extract(t *testing.T, msi string) string {
	t.Helper()
	dir := t.TempDir()
	if b, err := exec.Command(need(t, "msiextract"), "-C", dir, msi).CombinedOutput(); err != nil {
		t.Fatalf("msiextract: %v\n%s", err, b)
	}
	return filepath.Join(dir, "Lifeline")
}

func TestMSITables(t *testing.T) {
	msi := buildMSI(t, "v1.2.3-4-gabcdef")

	svc := find(table(t, msi, "ServiceInstall"), "Name", winservice.Name)
	if svc == nil {
		t.Fatalf("no ServiceInstall row for %s", winservice.Name)
	}
	// 16 own process, 2 automatic start, 1 normal error control.
	if svc["ServiceType"] != "16" || svc["DisplayName"] != winservice.DisplayName || svc["StartType"] != "2" || svc["ErrorControl"] != "1" ||
		svc["Arguments"] != `run --service --config "[DATADIR]agent.yaml"` || svc["Component_"] != "AgentBinary" || svc["StartName"] != "LocalSystem" {
		t.Errorf("ServiceInstall = %v", svc)
	}
	// 2+32+128: stopped on install (an upgrade) and uninstall, deleted on uninstall; never started by the MSI itself.
	if c := find(table(t, msi, "ServiceControl"), "Name", winservice.Name); c == nil || c["Event"] != "162" || c["Wait"] != "1" {
		t.Errorf("ServiceControl = %v, want event 162, wait 1", c)
	}

	dirs := table(t, msi, "Directory")
	if d := find(dirs, "Directory", "INSTALLDIR"); d == nil || d["Directory_Parent"] != "ProgramFiles64Folder" || d["DefaultDir"] != "Lifeline" {
		t.Errorf("INSTALLDIR = %v, want ProgramFiles64Folder\\Lifeline", d)
	}
	if d := find(dirs, "Directory", "DATADIR"); d == nil || d["Directory_Parent"] != "CommonAppDataFolder" || d["DefaultDir"] != "Lifeline" {
		t.Errorf("DATADIR = %v, want CommonAppDataFolder\\Lifeline (ProgramData)", d)
	}
	files := table(t, msi, "File")
	if f := find(files, "FileName", "lifeline-agent.exe"); f == nil || f["Component_"] != "AgentBinary" {
		t.Errorf("exe File row = %v", f)
	}
	if f := find(files, "FileName", "agent.yaml"); f == nil || f["Component_"] != "AgentConfig" {
		t.Errorf("config File row = %v", f)
	}

	comps := table(t, msi, "Component")
	cfg := find(comps, "Component", "AgentConfig")
	attr, _ := strconv.Atoi(cfg["Attributes"])
	// 16 Permanent (kept on uninstall), 128 NeverOverwrite (kept on upgrade), 256 64-bit.
	if cfg == nil || cfg["Directory_"] != "DATADIR" || attr&16 == 0 || attr&128 == 0 || attr&256 == 0 {
		t.Errorf("config component = %v, want in DATADIR with attributes 16|128|256", cfg)
	}
	if bin := find(comps, "Component", "AgentBinary"); bin == nil || bin["Directory_"] != "INSTALLDIR" || bin["KeyPath"] != "AgentExe" {
		t.Errorf("binary component = %v", bin)
	}

	// 3090 = exe from an installed file (18), deferred (1024), as LocalSystem (2048).
	if ca := find(table(t, msi, "CustomAction"), "Action", "ConfigureService"); ca == nil || ca["Type"] != "3090" || ca["Target"] != "service configure" {
		t.Errorf("ConfigureService custom action = %v", ca)
	}
	seq := map[string]int{}
	for _, r := range table(t, msi, "InstallExecuteSequence") {
		seq[r["Action"]], _ = strconv.Atoi(r["Sequence"])
	}
	if seq["RemoveExistingProducts"] != seq["InstallInitialize"]+1 {
		t.Errorf("RemoveExistingProducts at %d, want right after InstallInitialize (%d)", seq["RemoveExistingProducts"], seq["InstallInitialize"])
	}
	if !(seq["InstallServices"] < seq["ConfigureService"] && seq["ConfigureService"] < seq["StartServices"]) {
		t.Errorf("ConfigureService at %d, want between InstallServices (%d) and StartServices (%d)", seq["ConfigureService"], seq["InstallServices"], seq["StartServices"])
	}
	if !(seq["DeleteServices"] < seq["RemoveEventSource"] && seq["RemoveEventSource"] < seq["RemoveFiles"]) {
		t.Errorf("RemoveEventSource at %d, want between DeleteServices (%d) and RemoveFiles (%d)", seq["RemoveEventSource"], seq["DeleteServices"], seq["RemoveFiles"])
	}
	// Deferred custom actions run only inside the install script.
	for _, ca := range []string{"ConfigureService", "StartService", "RemoveEventSource"} {
		if seq[ca] <= seq["InstallInitialize"] || seq[ca] >= seq["InstallFinalize"] {
			t.Errorf("%s at %d, outside InstallInitialize (%d) … InstallFinalize (%d)", ca, seq[ca], seq["InstallInitialize"], seq["InstallFinalize"])
		}
	}
	if p := find(table(t, msi, "Property"), "Property", "ProductVersion"); p == nil || p["Value"] != "1.2.3" {
		t.Errorf("ProductVersion = %v, want 1.2.3 from v1.2.3-4-gabcdef", p)
	}
	t.Logf("MSI %d bytes", fileSize(t, msi))
	checkShippedConfig(t, filepath.Join(extract(t, msi), "agent.yaml"))
}

// The MSI's config is the Linux packages' sample with every path under
// ProgramData, where a Windows agent looks by default.
func checkShippedConfig(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("/etc/")) || bytes.Contains(data, []byte("/var/")) {
		t.Errorf("shipped config still holds a Linux path:\n%s", data)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("shipped config: %v", err)
	}
	want := config.WindowsPaths(`C:\ProgramData`)
	if cfg.Buffer.Dir != want.Buffer || cfg.Sources[0].PKIDir != want.PKI || cfg.Aggregator.TLS.CAFile != `C:\ProgramData\Lifeline\tls\ca.crt` {
		t.Errorf("shipped config paths: buffer %q, pki %q, ca %q; want under %s", cfg.Buffer.Dir, cfg.Sources[0].PKIDir, cfg.Aggregator.TLS.CAFile, `C:\ProgramData\Lifeline`)
	}
}

func fileSize(t *testing.T, path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
