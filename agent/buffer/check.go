package buffer

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/ristretto/v2/z"
)

// errDamagedTable marks a table file that cannot be opened.
var errDamagedTable = errors.New("damaged table")

// checkTables opens the footer and index of every table the manifest lists,
// in this goroutine. badger.Open opens them in goroutines of its own, where a
// truncated table makes Badger panic and kill the process before Open can
// return an error; here the panic is recovered and reported as corruption.
// A manifest that cannot be read is left for badger.Open to report.
func checkTables(dir string, log *slog.Logger) error {
	f, err := os.Open(filepath.Join(dir, badger.ManifestFilename))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return nil
	}
	defer f.Close()
	m, _, err := badger.ReplayManifestFile(f, 0, badgerOptions(dir, Options{}, log))
	if err != nil {
		return nil
	}
	for id, tm := range m.Tables {
		if err := checkTable(table.NewFilename(id, dir), tm); err != nil {
			return err
		}
	}
	return nil
}

func checkTable(path string, tm badger.TableManifest) (err error) {
	mf, err := z.OpenMmapFile(path, os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w %s: file does not exist for table", errDamagedTable, path)
		}
		return nil // not a question of damage; badger.Open will say what it is
	}
	defer func() {
		if r := recover(); r != nil {
			_ = mf.Close(-1)
			err = fmt.Errorf("%w %s: %v", errDamagedTable, path, r)
		}
	}()
	t, err := table.OpenTable(mf, table.Options{
		BlockSize:   4 << 10,
		Compression: tm.Compression,
	})
	if err != nil {
		return fmt.Errorf("%w %s: %v", errDamagedTable, path, err)
	}
	// Close the mapping only: DecrRef would delete the file.
	_ = t.MmapFile.Close(-1)
	return nil
}
