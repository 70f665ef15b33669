package pki

import (
	"os"
	"path/filepath"

	"github.com/lifeline-telemetry/lifeline/proto/atomicfile"
)

// writeFileAtomic creates path's directory and replaces path crash-safely.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, perm)
}
