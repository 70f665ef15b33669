package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

const sample = "../../packaging/config/aggregator.yaml"

// The sample config shows every default; it must say what Default() says.
func TestSampleConfigMatchesDefaults(t *testing.T) {
	cfg, err := Load(sample)
	if err != nil {
		t.Fatalf("sample config: %v", err)
	}
	def := Default()
	got := cfg
	got.Server.TLS = def.Server.TLS // the sample names certificate files; the default has none
	if !reflect.DeepEqual(got, def) {
		t.Fatalf("sample differs from defaults:\n got %+v\nwant %+v", got, def)
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	t.Setenv(EnvClickHouseAddr, "127.0.0.1:19000")
	t.Setenv(EnvClickHouseDatabase, "analytics")
	cfg, err := Load(sample)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClickHouse.Addr != "127.0.0.1:19000" || cfg.ClickHouse.Database != "analytics" {
		t.Fatalf("environment ignored: %+v", cfg.ClickHouse)
	}
	if st := cfg.Store(); st.Addr != "127.0.0.1:19000" || st.Database != "analytics" {
		t.Fatalf("store config: %+v", st)
	}
}

func TestInvalidConfigNamesEveryProblem(t *testing.T) {
	_, err := Load("../../testdata/aggregator/invalid.yaml")
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{
		`server.listen "nowhere"`,
		"server.tls: cert_file, key_file and client_ca_file are required",
		"server.max_streams",
		"server.limits.hello_timeout",
		"server.limits: streams_per_identity",
		`clickhouse.database "drop table"`,
		"writer: want max_rows >= 1",
		`log.level "loud"`,
		`report.at "7 am"`,
		`report.format "docx"`,
		`report.parks.P1.recipients: "not an address"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestUnknownKeyIsAnError(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/a.yaml"
	if err := os.WriteFile(path, []byte("clickhouse:\n  adress: x:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "field adress not found") {
		t.Fatalf("got %v", err)
	}
}

func TestGrafanaSectionIsValidated(t *testing.T) {
	path := t.TempDir() + "/a.yaml"
	data := "grafana:\n  url: grafana.local:3000\n  lang: fr\n  timeout: 0s\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	for _, want := range []string{`grafana.url "grafana.local:3000"`, `grafana.lang "fr"`, "grafana.timeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
}

// A command is refused only for the sections it uses: with no file and
// no certificates, migrate's ClickHouse section is valid while serving
// agents is not, and a broken grafana section stops provision, not migrate.
func TestLoadForValidatesOnlyTheSectionsUsed(t *testing.T) {
	t.Setenv(EnvClickHouseAddr, "127.0.0.1:19000")
	t.Setenv(EnvClickHouseDatabase, "plant")
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), "server.tls") {
		t.Fatalf("run without certificates: %v", err)
	}
	cfg, err := LoadFor("", ClickHouseSection)
	if err != nil {
		t.Fatalf("migrate without certificates: %v", err)
	}
	if cfg.ClickHouse.Addr != "127.0.0.1:19000" || cfg.ClickHouse.Database != "plant" {
		t.Fatalf("environment ignored: %+v", cfg.ClickHouse)
	}
	path := t.TempDir() + "/a.yaml"
	data := "grafana:\n  password_file: /nonexistent/grafana.pw\nclickhouse:\n  database: \"drop table\"\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvClickHouseDatabase, "")
	_, err = LoadFor(path, GrafanaSection)
	if err == nil || !strings.Contains(err.Error(), "grafana.password_file") {
		t.Fatalf("provision with a bad grafana section: %v", err)
	}
	if strings.Contains(err.Error(), "clickhouse") || strings.Contains(err.Error(), "server.tls") {
		t.Fatalf("grafana-only load names other sections: %v", err)
	}
	_, err = LoadFor(path, ClickHouseSection)
	if err == nil || !strings.Contains(err.Error(), `clickhouse.database "drop table"`) || strings.Contains(err.Error(), "grafana") {
		t.Fatalf("clickhouse-only load: %v", err)
	}
}

func TestClusterReachesTheStore(t *testing.T) {
	path := t.TempDir() + "/a.yaml"
	if err := os.WriteFile(path, []byte("server: {tls: {insecure: true}}\nclickhouse:\n  cluster: province\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store().Cluster != "province" {
		t.Fatalf("store config: %+v", cfg.Store())
	}
	if err := os.WriteFile(path, []byte("server: {tls: {insecure: true}}\nclickhouse:\n  cluster: prov-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), `cluster "prov-1"`) {
		t.Fatalf("a bad cluster name: %v", err)
	}
}

func TestMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		in     MemoryLimit
		cgroup int64
		want   int64
		bad    string
	}{
		{in: "auto", want: DefaultMemoryLimit},
		{in: "auto", cgroup: 2 << 30, want: 1536 << 20},
		{in: "off", cgroup: 2 << 30, want: 0},
		{in: "400MiB", want: 400 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: "134217728", want: 128 << 20},
		{in: "10MiB", bad: "want at least 64MiB"},
		{in: "400MB", bad: "want auto, off or a size"},
		{in: "lots", bad: "want auto, off or a size"},
		{in: "-1GiB", bad: "want auto, off or a size"},
	} {
		err := c.in.Validate()
		if c.bad != "" {
			if err == nil || !strings.Contains(err.Error(), c.bad) {
				t.Errorf("%q: got %v, want an error with %q", c.in, err, c.bad)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
		} else if got := c.in.Bytes(c.cgroup); got != c.want {
			t.Errorf("%q with cgroup %d: %d, want %d", c.in, c.cgroup, got, c.want)
		}
	}
	path := t.TempDir() + "/a.yaml"
	if err := os.WriteFile(path, []byte("memory_limit: 8MiB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "memory_limit") {
		t.Fatalf("small memory_limit accepted: %v", err)
	}
	if err := os.WriteFile(path, []byte("memory_limit: 512MiB\nserver: {tls: {insecure: true}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg, err := Load(path); err != nil || cfg.MemoryLimit.Bytes(0) != 512<<20 {
		t.Fatalf("memory_limit: 512MiB read as %q, %v", cfg.MemoryLimit, err)
	}
}
