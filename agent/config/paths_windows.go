package config

import (
	"os"

	"golang.org/x/sys/windows"
)

// DefaultPaths are the agent's paths on Windows, under ProgramData (the
// MSI's CommonAppDataFolder), asked of the shell rather than read from
// %ProgramData%: a service's environment need not hold the variable, or
// may hold another value (Wine's services see C:\users\Public).
func DefaultPaths() Paths {
	pd, err := windows.KnownFolderPath(windows.FOLDERID_ProgramData, 0)
	if err != nil || pd == "" {
		pd = os.Getenv("ProgramData")
	}
	if pd == "" {
		pd = `C:\ProgramData`
	}
	return WindowsPaths(pd)
}
