package config

import "os"

// DefaultPaths are the agent's paths on Windows, under %ProgramData%\Lifeline.
func DefaultPaths() Paths {
	pd := os.Getenv("ProgramData")
	if pd == "" {
		pd = `C:\ProgramData`
	}
	return WindowsPaths(pd)
}
