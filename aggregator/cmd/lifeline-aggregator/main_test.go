package main

import (
	"bytes"
	"strings"
	"testing"
)

func execute(args ...string) (string, error) {
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestVersionAndHelp(t *testing.T) {
	out, err := execute("--version")
	if err != nil || !strings.Contains(out, "lifeline-aggregator version") {
		t.Fatalf("--version: %q %v", out, err)
	}
	out, err = execute("--help")
	if err != nil || !strings.Contains(out, "migrate") || !strings.Contains(out, "run") {
		t.Fatalf("--help: %q %v", out, err)
	}
}

func TestRunRejectsInvalidConfig(t *testing.T) {
	out, err := execute("run", "--config", "../../../testdata/aggregator/invalid.yaml")
	if err == nil || !strings.Contains(out, "server.max_streams") {
		t.Fatalf("got %q %v", out, err)
	}
}
