//go:build !windows

package main

import (
	"strings"
	"testing"
)

// A Windows how-to tried on Linux points to systemd instead of failing as an
// unknown command.
func TestServiceCommandOffWindows(t *testing.T) {
	out, err := execute("service", "install")
	if err == nil || !strings.Contains(out, "Windows only") || !strings.Contains(out, "systemd") {
		t.Fatalf("service install: %q %v", out, err)
	}
	if help, _ := execute("--help"); strings.Contains(help, "service") {
		t.Errorf("--help lists the Windows-only service command:\n%s", help)
	}
}
