package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadonlyUsersWritesUsersD(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "aggregator.yaml")
	if err := os.WriteFile(cfg, []byte("server:\n  tls:\n    insecure: true\nclickhouse:\n  database: plant_db\ngrafana:\n  datasource:\n    password: s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "users.d", "lifeline.xml")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if msg, err := execute("readonly-users", "--config", cfg, "--out", out, "--network", "10.1.2.0/24"); err != nil {
		t.Fatalf("%v: %s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("s3cret"))
	for _, want := range []string{"<lifeline_readonly>", "<readonly>2</readonly>", "<database>plant_db</database>",
		"<ip>10.1.2.0/24</ip>", hex.EncodeToString(sum[:])} {
		if !strings.Contains(string(b), want) {
			t.Errorf("no %s in\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "s3cret") || strings.Contains(string(b), "127.0.0.1") {
		t.Errorf("plain password or default network in\n%s", b)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, %v; want 0640", fi.Mode(), err)
	}

	t.Setenv(envReadonlyPassword, "")
	if _, err := execute("readonly-users", "--config", plainConfig(t), "--out", filepath.Join(dir, "x.xml")); err == nil ||
		!strings.Contains(err.Error(), "password") {
		t.Errorf("no password: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.xml")); !os.IsNotExist(err) {
		t.Errorf("a file was written without a password: %v", err)
	}
}
