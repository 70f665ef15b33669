// Package buildinfo holds the version, commit and build date stamped into
// both binaries at link time, so every command and status reports the same.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at link time: -ldflags "-X github.com/lifeline-telemetry/lifeline/proto/buildinfo.Version=…".
// They stay variables because the linker can only stamp package-level strings.
var (
	Version = "dev"
	Commit  = ""
	Date    = ""
)

// Info is what a binary reports about its own build.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// Get returns the stamped values; a binary built without the Makefile's
// flags (go run, go test) falls back to the VCS data the Go toolchain embeds.
func Get() Info {
	info := Info{Version: Version, Commit: Commit, Date: Date,
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info.Commit != "" && info.Date != "" {
		return info
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && info.Commit == "":
				info.Commit = s.Value
			case s.Key == "vcs.time" && info.Date == "":
				info.Date = s.Value
			}
		}
	}
	return info
}

// String is the one-line form `--version` prints.
func (i Info) String() string {
	commit, date := i.Commit, i.Date
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if commit == "" {
		commit = "unknown"
	}
	if date == "" {
		date = "unknown"
	}
	return fmt.Sprintf("%s (commit %s, built %s, %s, %s)", i.Version, commit, date, i.GoVersion, i.Platform)
}
