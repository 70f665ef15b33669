package chdbtest

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

//go:embed chdb.js
var helperJS []byte

// DirEnv names a folder holding node_modules/chdb, instead of var/chdb
// under the module root.
const DirEnv = "LIFELINE_CHDB_DIR"

// ErrMissing means node or the chdb package is not installed.
var ErrMissing = errors.New("chdb not installed (make chdb)")

// Session is one node process holding a chdb session whose database lives
// in a directory. Statements run one at a time, in order.
type Session struct {
	mu     sync.Mutex
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	closed bool
}

// Module returns the chdb package directory, or ErrMissing.
func Module() (string, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("%w: no node: %v", ErrMissing, err)
	}
	base := os.Getenv(DirEnv)
	if base == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		base = filepath.Join(root, "var", "chdb")
	}
	mod := filepath.Join(base, "node_modules", "chdb")
	if _, err := os.Stat(filepath.Join(mod, "package.json")); err != nil {
		return "", fmt.Errorf("%w: %v", ErrMissing, err)
	}
	return mod, nil
}

// moduleRoot walks up from the working directory to the folder of go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: no go.mod above the working directory", ErrMissing)
		}
		dir = parent
	}
}

// Start runs a chdb session on the database in dir (created if missing).
func Start(dir string) (*Session, error) {
	mod, err := Module()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("chdb dir: %w", err)
	}
	script := filepath.Join(dir, "chdb-helper.js")
	if err := os.WriteFile(script, helperJS, 0o644); err != nil {
		return nil, fmt.Errorf("chdb helper: %w", err)
	}
	cmd := exec.Command("node", script, mod, filepath.Join(dir, "db"))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start chdb helper: %w", err)
	}
	s := &Session{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}
	// Times are read and written as UTC text, whatever the machine's zone;
	// 64-bit integers and NaN stay JSON numbers and strings.
	for _, set := range []string{
		"SET session_timezone = 'UTC'",
		"SET output_format_json_quote_64bit_integers = 0",
		"SET output_format_json_quote_denormals = 1",
	} {
		if _, err := s.Query(set, "TabSeparated"); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Query runs one statement and returns its output in format.
func (s *Session) Query(sql, format string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", errors.New("chdb session closed")
	}
	req, err := json.Marshal(struct {
		SQL    string `json:"sql"`
		Format string `json:"format"`
	}{sql, format})
	if err != nil {
		return "", err
	}
	if _, err := s.in.Write(append(req, '\n')); err != nil {
		return "", fmt.Errorf("chdb helper: %w", err)
	}
	line, err := s.out.ReadBytes('\n')
	if err != nil {
		return "", fmt.Errorf("chdb helper: %w", err)
	}
	var reply struct {
		Out *string `json:"out"`
		Err string  `json:"err"`
	}
	if err := json.Unmarshal(line, &reply); err != nil {
		return "", fmt.Errorf("chdb helper reply: %w", err)
	}
	if reply.Out == nil {
		return "", &Error{SQL: sql, Message: reply.Err}
	}
	return *reply.Out, nil
}

// Close ends the session; the database stays in its directory.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	_ = s.in.Close()
	return s.cmd.Wait()
}

// Error is a statement chdb refused.
type Error struct {
	SQL     string
	Message string
}

func (e *Error) Error() string { return "chdb: " + e.Message }
