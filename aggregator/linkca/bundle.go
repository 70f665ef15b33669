package linkca

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lifeline-telemetry/lifeline/proto/atomicfile"
)

// CopyCA writes the CA's certificate (never its key) into out as ca.crt,
// beside the certificates issued there: the directory handed to the
// aggregator or to a plant then holds every file its TLS settings name.
// It does nothing when out is the CA directory.
func CopyCA(caDir, out string) error {
	from, err1 := filepath.Abs(caDir)
	to, err2 := filepath.Abs(out)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if from == to {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(caDir, CACert))
	if err != nil {
		return fmt.Errorf("read CA certificate: %w", err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(out, CACert), data, 0o644)
}

// EnsureRevoked creates an empty deny-list at path unless one exists (the
// aggregator refuses to start when server.tls.revoked_file is missing). It
// reports whether it created one.
func EnsureRevoked(path string) (bool, error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	header := "# Revoked agent certificate serials, one hex serial per line; written by\n" +
		"# 'lifeline-aggregator certs revoke --list " + path + "'.\n"
	if err := atomicfile.WriteFile(path, []byte(header), 0o644); err != nil {
		return false, fmt.Errorf("create deny-list: %w", err)
	}
	return true, nil
}
