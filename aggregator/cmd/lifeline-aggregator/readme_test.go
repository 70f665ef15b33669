package main

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// fenced returns the bodies of the README's code blocks of one language.
func fenced(t *testing.T, doc, lang string) []string {
	t.Helper()
	var out []string
	for _, part := range strings.Split(doc, "```"+lang+"\n")[1:] {
		body, _, ok := strings.Cut(part, "```")
		if !ok {
			t.Fatalf("unclosed %s block", lang)
		}
		out = append(out, body)
	}
	return out
}

// tlsFiles returns the files a YAML block's TLS section names, under
// server.tls (the aggregator) or aggregator.tls (an agent).
func tlsFiles(t *testing.T, block, section string) []string {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(block), &doc); err != nil {
		t.Fatalf("yaml: %v\n%s", err, block)
	}
	top, _ := doc[section].(map[string]any)
	sec, _ := top["tls"].(map[string]any)
	var out []string
	for _, k := range []string{"ca_file", "client_ca_file", "cert_file", "key_file", "revoked_file"} {
		if v, ok := sec[k].(string); ok {
			out = append(out, v)
		}
	}
	return out
}

// The README's certificate commands, run as written (under a temporary
// root), make every file the example configurations name: the
// aggregator's (README and packaging/config/aggregator.yaml) at once, an
// agent's (README and packaging/config/agent.yaml) once the plant has
// copied the files where the README says.
func TestReadmeCertCommandsMakeTheConfiguredFiles(t *testing.T) {
	data, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	root, cwd, plant := t.TempDir(), t.TempDir(), t.TempDir()
	rewrite := func(arg string) string {
		switch {
		case strings.HasPrefix(arg, "/etc/lifeline"):
			return filepath.Join(root, arg)
		case strings.HasPrefix(arg, "./"):
			return filepath.Join(cwd, arg)
		}
		return arg
	}
	ran, agentOut, plantDir := runReadmeCerts(t, readme, rewrite)
	if !strings.Contains(strings.Join(ran, " "), "init server agent") {
		t.Fatalf("README's certs commands: %v, want init, server, agent", ran)
	}
	if agentOut == "" {
		t.Fatal("README does not say where the plant puts the agent's files (\"copy DIR/* to the plant's DIR\")")
	}
	copyFiles(t, rewrite(agentOut), filepath.Join(plant, plantDir))

	blocks := fenced(t, readme, "yaml")
	for _, p := range []string{"../../../packaging/config/aggregator.yaml", "../../../packaging/config/agent.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, string(b))
	}
	checked := map[string]int{}
	for _, block := range blocks {
		for section, base := range map[string]string{"server": root, "aggregator": plant} {
			named := tlsFiles(t, block, section)
			for _, f := range named {
				if _, err := os.Stat(filepath.Join(base, f)); err != nil {
					t.Errorf("%s.tls names %s, which the README's commands do not make: %v", section, f, err)
				}
				checked[section]++
			}
			var cert, key string
			for _, f := range named {
				switch {
				case strings.HasSuffix(f, ".key"):
					key = filepath.Join(base, f)
				case strings.HasSuffix(f, ".crt") && !strings.HasSuffix(f, "ca.crt"):
					cert = filepath.Join(base, f)
				}
			}
			if cert != "" && key != "" {
				if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
					t.Errorf("%s.tls: %v", section, err)
				}
			}
		}
	}
	if checked["server"] < 8 || checked["aggregator"] < 6 {
		t.Fatalf("checked %v TLS files, want the README's and both example configurations'", checked)
	}
}

// runReadmeCerts runs the README's `lifeline-aggregator certs` commands
// with their paths rewritten, and returns the subcommands run and where
// the README says the agent's directory goes at the plant.
func runReadmeCerts(t *testing.T, readme string, rewrite func(string) string) (ran []string, agentOut, plantDir string) {
	t.Helper()
	copyRule := regexp.MustCompile(`copy (\S+)/\* to the plant's (\S+)`)
	for _, block := range fenced(t, readme, "sh") {
		for _, line := range strings.Split(block, "\n") {
			cmd, comment, _ := strings.Cut(line, "#")
			f := strings.Fields(cmd)
			if len(f) < 3 || f[0] != "lifeline-aggregator" || f[1] != "certs" {
				continue
			}
			if m := copyRule.FindStringSubmatch(comment); m != nil && f[2] == "agent" {
				agentOut, plantDir = m[1], m[2]
			}
			args := make([]string, 0, len(f)-1)
			for _, a := range f[1:] {
				args = append(args, rewrite(a))
			}
			if out, err := execute(args...); err != nil {
				t.Fatalf("%s: %v\n%s", cmd, err, out)
			}
			ran = append(ran, f[2])
		}
	}
	return ran, agentOut, plantDir
}

// copyFiles copies the files of from into to, as an engineer carrying
// them to the plant would.
func copyFiles(t *testing.T, from, to string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(from, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("nothing in %s: %v", from, err)
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
