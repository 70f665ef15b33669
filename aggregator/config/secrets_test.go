package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every secret can come from a file or the environment instead of the
// config; the environment wins; inline and file together are refused.
func TestSecretsFromFilesAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ch := write("ch", "s3cret\n", 0o600)
	tok := write("tok", "glsa_x\n", 0o600)
	pw := write("pw", "gpw", 0o600)
	ds := write("ds", "dspw\n", 0o600)
	cfgPath := write("a.yaml", "server: {tls: {insecure: true}}\nclickhouse: {password_file: "+ch+"}\ngrafana: {token_file: "+tok+", password_file: "+pw+
		", datasource: {password_file: "+ds+"}}\n", 0o644)
	cfg, err := Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClickHouse.Password != "s3cret" || cfg.Store().Password != "s3cret" || cfg.Grafana.Token != "glsa_x" ||
		cfg.Grafana.Password != "gpw" || cfg.Grafana.Datasource.Password != "dspw" {
		t.Fatalf("secrets from files: %+v %+v", cfg.ClickHouse, cfg.Grafana)
	}
	if w := SecretWarnings(cfgPath); len(w) != 0 {
		t.Fatalf("warned with no inline secret: %v", w)
	}

	t.Setenv(EnvClickHousePassword, "from-env")
	t.Setenv(EnvGrafanaDatasourcePassword, "ds-env")
	if cfg, err = Load(cfgPath); err != nil {
		t.Fatal(err)
	}
	if cfg.ClickHouse.Password != "from-env" || cfg.Grafana.Datasource.Password != "ds-env" {
		t.Fatalf("environment ignored: %q %q", cfg.ClickHouse.Password, cfg.Grafana.Datasource.Password)
	}

	both := write("both.yaml", "server: {tls: {insecure: true}}\nclickhouse: {password: x, password_file: "+ch+"}\n", 0o600)
	if _, err := Load(both); err == nil || !strings.Contains(err.Error(), "clickhouse.password and clickhouse.password_file") {
		t.Fatalf("inline and file together: %v", err)
	}
	missing := write("missing.yaml", "server: {tls: {insecure: true}}\ngrafana: {token_file: "+filepath.Join(dir, "nope")+"}\n", 0o600)
	if _, err := Load(missing); err == nil || !strings.Contains(err.Error(), "grafana.token_file") {
		t.Fatalf("missing secret file: %v", err)
	}
}

// An inline secret in a file others can read is warned about, once per
// secret; the same file private, or without secrets, is not.
func TestInlineSecretInReadableFileWarns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.yaml")
	if err := os.WriteFile(path, []byte("clickhouse: {password: hunter2}\ngrafana: {token: glsa_y}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := SecretWarnings(path)
	if len(w) != 2 || !strings.Contains(w[0], "clickhouse.password") || !strings.Contains(w[1], "grafana.token") {
		t.Fatalf("warnings %q", w)
	}
	if strings.Contains(strings.Join(w, " "), "hunter2") {
		t.Fatal("warning shows the secret")
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if w := SecretWarnings(path); len(w) != 0 {
		t.Fatalf("private file warned: %q", w)
	}
}
