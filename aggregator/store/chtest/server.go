package chtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// ErrNoServer reports that no clickhouse-server binary was found.
var ErrNoServer = errors.New("clickhouse-server not found on PATH, in /usr/sbin or /usr/bin " +
	"(install it with: apt-get install -y clickhouse-server, or set LIFELINE_CLICKHOUSE_ADDR=host:port)")

// readyTimeout bounds how long a start waits for SELECT 1 to succeed: the
// wait ends at the first answer, so the bound is for a loaded CI machine,
// where test binaries start their servers side by side.
const readyTimeout = 2 * time.Minute

// stopTimeout bounds how long Stop waits after SIGTERM before SIGKILL.
const stopTimeout = 15 * time.Second

// Server is a clickhouse-server process running on a directory. Stop or Kill
// it and Start it again: it keeps its ports and its data.
type Server struct {
	cfg  serverConfig
	bin  []string // binary and leading arguments, e.g. {"clickhouse", "server"}
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
}

// Options shape a server's config.
type Options struct {
	// Compression is the compression method of every MergeTree part: "zstd"
	// as packaging/clickhouse/lifeline.xml sets it, or "" for ClickHouse's
	// default (LZ4).
	Compression string
}

// Recommended is the configuration Lifeline ships for ClickHouse
// (packaging/clickhouse/lifeline.xml).
var Recommended = Options{Compression: "zstd"}

// StartServer starts clickhouse-server configured as Recommended with its
// config, data and logs in dir (created if missing; config written on first
// use) and waits until it answers SELECT 1 on its native port. It returns
// ErrNoServer when no binary is installed.
func StartServer(dir string) (*Server, error) { return StartServerWith(dir, Recommended) }

// StartServerWith is StartServer with the given options; they apply when
// dir's config is first written.
func StartServerWith(dir string, o Options) (*Server, error) {
	s, err := NewServer(dir, o)
	if err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

// NewServer writes dir's config as StartServerWith does but does not start
// the server, so that files may be added to its config.d (ConfigDir) first.
func NewServer(dir string, o Options) (*Server, error) {
	bin, err := findBinary()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg, err := loadOrCreateConfig(dir, o)
	if err != nil {
		return nil, fmt.Errorf("clickhouse config in %s: %w", dir, err)
	}
	return &Server{cfg: cfg, bin: bin}, nil
}

// ConfigDir is the config.d directory next to config.xml, whose files the
// server merges into its config when it starts.
func (s *Server) ConfigDir() string { return filepath.Join(s.cfg.Dir, "config.d") }

// Addr is the server's native-protocol address, host:port.
func (s *Server) Addr() string { return s.cfg.addr() }

// Dir is the directory holding the server's config, data and logs.
func (s *Server) Dir() string { return s.cfg.Dir }

// Start starts the server again after Stop or Kill and waits until it is
// ready. It does nothing if the server is running.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		select {
		case <-s.done:
		default:
			return nil
		}
	}
	out, err := os.OpenFile(filepath.Join(s.cfg.Dir, "log", "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close() // the child holds its own descriptor
	args := append(append([]string{}, s.bin[1:]...), "--config-file="+filepath.Join(s.cfg.Dir, "config.xml"))
	cmd := exec.Command(s.bin[0], args...)
	cmd.Dir = s.cfg.Dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin[0], err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	done := s.done
	// Start holds s.mu until the server is ready, and on a failed start
	// waits for done under it: the waiter must not need s.mu.
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	if err := waitReady(s.Addr(), done); err != nil {
		s.signal(syscall.SIGKILL)
		<-done
		return fmt.Errorf("clickhouse-server on %s: %w\n%s", s.Addr(), err, s.logTail())
	}
	return nil
}

// Pid is the server's process ID while it runs, 0 otherwise: for
// measuring what it costs.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	select {
	case <-s.done:
		return 0
	default:
		return s.cmd.Process.Pid
	}
}

// Stop shuts the server down gracefully (SIGTERM, then SIGKILL after a
// while) and waits for the process to exit. It is safe to call repeatedly.
func (s *Server) Stop() error { return s.stop(syscall.SIGTERM) }

// Kill kills the server with SIGKILL, as a crash would, and waits for the
// process to exit. It is safe to call repeatedly.
func (s *Server) Kill() error { return s.stop(syscall.SIGKILL) }

func (s *Server) stop(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	select {
	case <-s.done:
		return nil
	default:
	}
	s.signal(sig)
	s.mu.Unlock()
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		s.mu.Lock()
		s.signal(syscall.SIGKILL)
		s.mu.Unlock()
		<-s.done
	}
	s.mu.Lock()
	return nil
}

// signal sends sig to the server's process group. Callers hold s.mu.
func (s *Server) signal(sig syscall.Signal) {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	signalProcess(s.cmd.Process, sig)
}

// logTail returns the last lines of the server's logs for error messages.
func (s *Server) logTail() string {
	var b strings.Builder
	for _, name := range []string{"stdout.log", "server.err.log", "server.log"} {
		path := filepath.Join(s.cfg.Dir, "log", name)
		data, err := os.ReadFile(path)
		if err != nil || len(data) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 30 {
			lines = lines[len(lines)-30:]
		}
		fmt.Fprintf(&b, "--- tail of %s ---\n%s\n", path, strings.Join(lines, "\n"))
	}
	return b.String()
}

// waitReady polls addr until a native connection answers SELECT 1, the
// process exits (done closes) or readyTimeout passes.
func waitReady(addr string, done <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	var last error
	for {
		if last = ping(ctx, addr); last == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("server exited before it was ready (last error: %v)", last)
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", readyTimeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ping opens a native connection to addr and runs SELECT 1.
func ping(ctx context.Context, addr string) error {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{addr},
		DialTimeout: time.Second,
		ReadTimeout: 5 * time.Second,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	var one uint8
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return err
	}
	if one != 1 {
		return fmt.Errorf("SELECT 1 returned %d", one)
	}
	return nil
}

// findBinary locates clickhouse-server, or the single clickhouse binary
// with its "server" subcommand.
func findBinary() ([]string, error) {
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return []string{p}, nil
	}
	for _, p := range []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return []string{p}, nil
		}
	}
	if p, err := exec.LookPath("clickhouse"); err == nil {
		return []string{p, "server"}, nil
	}
	return nil, ErrNoServer
}
