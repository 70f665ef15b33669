package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// status reads the metrics section alone, so a config whose TLS files and
// secrets the operator cannot read still tells it where to look.
func TestStatusFindsTheMetricsListener(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		path, want, err string
	}{
		{"", "127.0.0.1:9465", ""},
		{write("full.yaml", "server:\n  tls: {cert_file: /root/unreadable.crt}\nclickhouse: {password_file: /root/secret}\nmetrics: {listen: \"0.0.0.0:9555\"}\n"), "0.0.0.0:9555", ""},
		{write("nometrics.yaml", "clickhouse: {addr: \"ch:9000\"}\n"), "127.0.0.1:9465", ""},
		{write("off.yaml", "metrics: {listen: \"\"}\n"), "", "metrics.listen is empty"},
		{filepath.Join(dir, "missing.yaml"), "", "no such file"},
	} {
		got, err := metricsListen(c.path)
		if got != c.want || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: got %q %v, want %q %q", c.path, got, err, c.want, c.err)
		}
	}
	for listen, want := range map[string]string{
		"0.0.0.0:9555": "127.0.0.1:9555", ":9555": "127.0.0.1:9555", "[::]:9555": "127.0.0.1:9555",
		"10.0.0.5:9465": "10.0.0.5:9465", "localhost:9465": "localhost:9465",
	} {
		if got := dialable(listen); got != want {
			t.Errorf("dialable(%q) = %q, want %q", listen, got, want)
		}
	}
}

// Nothing listening: the error says where status looked.
func TestStatusAggregatorNotRunning(t *testing.T) {
	out, err := execute("status", "--metrics", "127.0.0.1:1", "--interval", "0")
	if err == nil || !strings.Contains(out, "read aggregator status: not reachable at http://127.0.0.1:1/metrics (is it running?)") {
		t.Fatalf("got %q %v", out, err)
	}
}
