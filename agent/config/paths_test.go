package config

import (
	"runtime"
	"testing"
)

// The Linux paths are the ones the systemd unit and the packages use; the
// Windows ones are where the MSI puts the config and the service logs.
func TestDefaultPaths(t *testing.T) {
	if runtime.GOOS != "windows" {
		want := Paths{Config: "/etc/lifeline/agent.yaml", Buffer: "/var/lib/lifeline-agent/buffer", PKI: "/var/lib/lifeline-agent/pki"}
		if got := DefaultPaths(); got != want {
			t.Errorf("DefaultPaths() = %+v, want %+v", got, want)
		}
	}
	want := Paths{
		Config: `D:\ProgramData\Lifeline\agent.yaml`,
		Buffer: `D:\ProgramData\Lifeline\buffer`,
		PKI:    `D:\ProgramData\Lifeline\pki`,
		Log:    `D:\ProgramData\Lifeline\logs\agent.log`,
	}
	if got := WindowsPaths(`D:\ProgramData`); got != want {
		t.Errorf("WindowsPaths = %+v, want %+v", got, want)
	}
	def := Default()
	if def.Buffer.Dir != DefaultPaths().Buffer {
		t.Errorf("Default().Buffer.Dir = %q, want %q", def.Buffer.Dir, DefaultPaths().Buffer)
	}
	var s Source
	SourceDefaults(&s)
	if s.PKIDir != DefaultPaths().PKI {
		t.Errorf("default pki_dir = %q, want %q", s.PKIDir, DefaultPaths().PKI)
	}
}
