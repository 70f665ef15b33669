package main

import (
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// docs/agent.md's command table lists every command the agent has, and
// each certs command with the PKI directory it works on.
func TestDocsListEveryCommand(t *testing.T) {
	data, err := os.ReadFile("../../../docs/agent.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if cmd, ok := strings.CutPrefix(line, "| `lifeline-agent "); ok {
			name, _, _ := strings.Cut(cmd, "`")
			rows[name] = line
		}
	}
	var walk func(prefix string, c *cobra.Command)
	walk = func(prefix string, c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			name := strings.TrimSpace(prefix + " " + sub.Name())
			if sub.HasSubCommands() {
				walk(name, sub)
				continue
			}
			found := false
			for row := range rows {
				if row == name || strings.HasPrefix(row, name+" ") {
					found = true
					if strings.HasPrefix(name, "certs ") && !strings.Contains(row, "--pki") {
						t.Errorf("docs/agent.md: %q does not show --pki", row)
					}
				}
			}
			if !found {
				t.Errorf("docs/agent.md's command table lacks lifeline-agent %s", name)
			}
		}
	}
	walk("", newRoot())
}
