package config

// Paths are where the agent keeps its files unless its configuration or a
// flag says otherwise. DefaultPaths (paths_windows.go, paths_other.go)
// gives this system's.
type Paths struct {
	Config string // the configuration file
	Buffer string // Badger buffer directory (buffer.dir)
	PKI    string // OPC UA certificates (a source's pki_dir)
	Log    string // log file of the Windows service; empty elsewhere (stderr, journald)
}

// unixPaths follow the FHS and the systemd unit's StateDirectory.
func unixPaths() Paths {
	return Paths{
		Config: "/etc/lifeline/agent.yaml",
		Buffer: "/var/lib/lifeline-agent/buffer",
		PKI:    "/var/lib/lifeline-agent/pki",
	}
}

// WindowsPaths are the paths under programData (%ProgramData%, normally
// C:\ProgramData)\Lifeline. It is spelled out with backslashes so tests on
// any system can check what a Windows agent uses.
func WindowsPaths(programData string) Paths {
	root := programData + `\Lifeline`
	return Paths{
		Config: root + `\agent.yaml`,
		Buffer: root + `\buffer`,
		PKI:    root + `\pki`,
		Log:    root + `\logs\agent.log`,
	}
}
