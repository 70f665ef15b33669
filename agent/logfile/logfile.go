// Package logfile is a log file that rotates itself by size, for the agent
// as a Windows service, which has no journald to take its standard error.
package logfile

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// File writes to path until it would pass maxBytes, then renames it to
// path.1 (path.1 to path.2 …, dropping path.<keep>) and starts a new one.
// A log line is never split across two files. It is safe for concurrent
// use; slog handlers write each record with one Write.
type File struct {
	path     string
	maxBytes int64
	keep     int

	mu   sync.Mutex
	f    *os.File
	size int64
}

// New returns a File; it opens nothing until the first Write. keep is how
// many rotated files are kept besides the current one.
func New(path string, maxBytes int64, keep int) *File {
	return &File{path: path, maxBytes: maxBytes, keep: max(keep, 0)}
}

// Write appends p, rotating first if p would take the file past maxBytes.
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		if err := l.open(); err != nil {
			return 0, err
		}
	}
	if l.size > 0 && l.size+int64(len(p)) > l.maxBytes {
		if err := l.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// Close closes the current file; a later Write opens it again.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

func (l *File) open() error {
	if err := os.MkdirAll(filepath.Dir(l.path), 0o755); err != nil {
		return fmt.Errorf("log directory: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log %s: %w", l.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat log %s: %w", l.path, err)
	}
	l.f, l.size = f, st.Size()
	return nil
}

// rotate closes the file before renaming it: Windows refuses to rename a
// file that is open.
func (l *File) rotate() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("close log %s: %w", l.path, err)
	}
	l.f = nil
	if l.keep == 0 {
		if err := os.Remove(l.path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("rotate log: %w", err)
		}
		return l.open()
	}
	os.Remove(l.rotated(l.keep))
	for i := l.keep - 1; i >= 1; i-- {
		if err := os.Rename(l.rotated(i), l.rotated(i+1)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("rotate log: %w", err)
		}
	}
	if err := os.Rename(l.path, l.rotated(1)); err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	return l.open()
}

func (l *File) rotated(i int) string { return fmt.Sprintf("%s.%d", l.path, i) }
