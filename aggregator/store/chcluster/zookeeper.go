package chcluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ZooKeeperJar is where Debian's zookeeper package puts the server.
const ZooKeeperJar = "/usr/share/java/zookeeper.jar"

// ErrNoZooKeeper reports that java or the zookeeper jar is missing.
var ErrNoZooKeeper = errors.New("zookeeper not found (" + ZooKeeperJar + " and java; install it with: apt-get install -y zookeeper)")

// ZooKeeper is a standalone ZooKeeper server on a loopback port and a data
// directory. Stop it and Start it again: it keeps its port and its data.
type ZooKeeper struct {
	dir  string
	port int
	java string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// NewZooKeeper writes dir's zoo.cfg for a free port. It does not start it.
func NewZooKeeper(dir string) (*ZooKeeper, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, ErrNoZooKeeper
	}
	if _, err := os.Stat(ZooKeeperJar); err != nil {
		return nil, ErrNoZooKeeper
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("pick zookeeper port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	// A short tick keeps session expiry and reconnection quick in tests;
	// ClickHouse asks for 30 s sessions, within maxSessionTimeout.
	cfg := fmt.Sprintf(`tickTime=500
dataDir=%s/data
clientPort=%d
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
maxSessionTimeout=60000
4lw.commands.whitelist=ruok,srvr
`, dir, port)
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	return &ZooKeeper{dir: dir, port: port, java: java}, nil
}

// Port is the client port on 127.0.0.1.
func (z *ZooKeeper) Port() int { return z.port }

// Addr is the client address, host:port.
func (z *ZooKeeper) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(z.port)) }

// Start runs the server and waits until it serves. It does nothing
// if it is running.
func (z *ZooKeeper) Start() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.cmd != nil {
		select {
		case <-z.done:
		default:
			return nil
		}
	}
	out, err := os.OpenFile(filepath.Join(z.dir, "zookeeper.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(z.java, "-Xmx256m", "-XX:+UseSerialGC", "-cp", ZooKeeperJar,
		"org.apache.zookeeper.server.ZooKeeperServerMain", filepath.Join(z.dir, "zoo.cfg"))
	cmd.Dir = z.dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start zookeeper: %w", err)
	}
	done := make(chan struct{})
	z.cmd, z.done = cmd, done
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	// The wait ends at the first ruok; the bound is for a JVM starting on a
	// loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		if z.ruok(ctx) {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("zookeeper on %s exited at start (see %s)", z.Addr(), filepath.Join(z.dir, "zookeeper.log"))
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("zookeeper on %s not ready: %w", z.Addr(), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Zxid is the id of the server's last transaction, from its srvr report:
// the difference between two readings counts the writes between them.
func (z *ZooKeeper) Zxid() (uint64, error) {
	c, err := net.DialTimeout("tcp", z.Addr(), 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return 0, err
	}
	out, err := io.ReadAll(c)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "Zxid: "); ok {
			return strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(v), "0x"), 16, 64)
		}
	}
	return 0, fmt.Errorf("zookeeper %s: no Zxid in %q", z.Addr(), out)
}

func (z *ZooKeeper) ruok(ctx context.Context) bool {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", z.Addr())
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return false
	}
	// "ruok" answers imok before the database is loaded; srvr names the
	// mode only once the server takes sessions (18.16 segfaults on an ON
	// CLUSTER statement after its first handshake was refused).
	out, _ := io.ReadAll(bufio.NewReader(c))
	return bytes.Contains(out, []byte("Mode: standalone"))
}

// Stop kills the server (ZooKeeper logs every change before it answers, so
// nothing acknowledged is lost) and waits for it to exit.
func (z *ZooKeeper) Stop() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.cmd == nil {
		return nil
	}
	select {
	case <-z.done:
		return nil
	default:
	}
	_ = syscall.Kill(-z.cmd.Process.Pid, syscall.SIGKILL)
	<-z.done
	return nil
}
