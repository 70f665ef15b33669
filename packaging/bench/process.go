package bench

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/lifeline-telemetry/lifeline/packaging/launch"
)

// startProcess runs binDir/name with args, its output in a log in dir.
func startProcess(binDir, dir, name string, args ...string) (*launch.Process, error) {
	log := filepath.Join(dir, fmt.Sprintf("%s-%d.log", name, time.Now().UnixNano()))
	return launch.Start(filepath.Join(binDir, name), log, args...)
}
